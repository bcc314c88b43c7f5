"""What the Draw tab says, in its model's own words: a digit model asks for "a digit (0-9)", a model
taught in the Teach tab names its classes ("Draw a circle, cross or line", "Not sure: maybe circle
or cross")."""

from __future__ import annotations

DIGITS = [str(d) for d in range(10)]
NAMED = 6  # more classes than this are counted, not named, in the canvas's label
DIGIT_PROMPT = "Draw a digit (0-9)"
DIGIT_EMPTY = "Draw a digit"
DIGIT_UNSURE = "Not sure this is a digit: maybe {} or {}"
OTHER_UNSURE = "Not sure: maybe {} or {}"


def is_digits(classes) -> bool:
    return sorted(map(str, classes or [])) == DIGITS or not classes


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def one_of(classes: list[str]) -> str:
    """'a circle, cross or line' (the first NAMED, then how many more)."""
    names = [str(c) for c in classes]
    if len(names) > NAMED:
        return f"{_article(names[0])} {', '.join(names[:NAMED])} or one of {len(names) - NAMED} more"
    head = ", ".join(names[:-1])
    return f"{_article(names[0])} " + (f"{head} or {names[-1]}" if head else names[-1])


def prompt(classes) -> str:
    """The canvas's label."""
    return DIGIT_PROMPT if is_digits(classes) else f"Draw {one_of(classes)}"


def empty(classes) -> str:
    """What the prediction says while the canvas is empty."""
    return DIGIT_EMPTY if is_digits(classes) else f"Draw {one_of(classes)}"


def unsure(probs: dict) -> str:
    """The headline's wording when no class stands out (formatted with the two best guesses)."""
    return DIGIT_UNSURE if is_digits(list(probs)) else OTHER_UNSURE


# What each model is, for a newcomer choosing one (the Train tab's model list; values stay the names).
MODEL_WORDS = {
    "seed000_net": "a PyTorch tutorial's small CNN: two convolutions, two linear layers (MNIST)",
    "seed000_keras": "the same tutorial's Keras CNN, rebuilt in PyTorch (MNIST)",
    "seed001_convnet": "a from-scratch tutorial's CNN: four convolutions, two poolings (CIFAR-10)",
    "seed002_net": "a tiny tutorial CNN: two 4-channel blocks, 2,174 weights (MNIST)",
    "seed002_keras": "the same tutorial's Keras CNN, rebuilt in PyTorch (MNIST)",
    "seed003_cnn": "a TensorFlow-vs-PyTorch tutorial's CNN: two convolutions (MNIST)",
    "seed004_simplecnn": "a tutorial's three-block CNN, 32 to 128 channels (CIFAR-10)",
    "seed004_cnn": "a tutorial's four-layer CNN with batch norm (MNIST)",
    "mnist_fast": "this project's small, fast net for digits: trains in seconds on a CPU",
    "mnist_small": "a narrower mnist_fast: to 99% about 1.5x as fast on a CPU, a little less accurate",
    "mnist_mid": "mnist_fast at 1.5x its widths: the shipped digit model, trained to read drawings",
    "cifar10_fast": "this project's airbench net for photos: fast on a GPU",
    "cifar10_small": "this project's narrower airbench net for photos: trains on a CPU",
}


def model_choices(names) -> list[tuple[str, str]]:
    """(label, name) pairs for a model dropdown: 'seed000_net: a PyTorch tutorial's small CNN ...'."""
    return [(f"{n}: {MODEL_WORDS[n]}" if n in MODEL_WORDS else n, n) for n in names]
