"""Share links for designs: the page's query holds the design (cnn.models.design_link's token), the
data set and the recipe, as TensorFlow Playground keeps its network in its URL. Reading a link names
each bad part and keeps the rest, so a damaged link still opens the page."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from cnn.errors import ConfigError
from cnn.models import design_link
from cnn.training.recipe import OPTIMIZERS
from cnn.training.recipes import RECIPES

from .common import DATASET_CHOICES, DATASETS
from .design_edits import as_layers
from .numbers import parse_number

MAX_IMAGES = 10_000_000  # a quick run's sizes in a link (a run takes at most its data set's own)


# The link's names for Start's settings, in share_query's order (the design and data set before them).
SETTINGS = ("recipe", "epochs", "batch", "lr", "optimizer", "train", "test")
LINK_KEYS = {"design", "dataset", *SETTINGS}


def share_query(design, dataset_choice, recipe, epochs, batch, lr, optimizer, train_n="", test_n="") -> str:
    """The query that opens the page with this design, data set and every setting Start uses (the
    quick run's training and test images too): `?design=...&...`."""
    q = {"design": design_link.design_to_token(as_layers(design))}
    if DATASETS.get(dataset_choice):
        q["dataset"] = DATASETS[dataset_choice]
    for name, v in zip(SETTINGS, (recipe, epochs, batch, lr, optimizer, train_n, test_n), strict=True):
        v = v.strip().replace(",", "") if isinstance(v, str) else v
        if v not in (None, ""):
            q[name] = f"{v:g}" if isinstance(v, float) else str(v)
    return "?" + urlencode(q)


@dataclass(frozen=True)
class Link:
    """What a share link fills in (None: left as it is) and what was wrong in it."""

    design: list | None = None
    dataset_choice: str | None = None
    recipe: str | None = None
    epochs: float | None = None
    batch: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    train_n: int | None = None  # the quick run's training images (None: all, or as it is)
    test_n: int | None = None  # and its test images
    problems: tuple = ()


def _number(query, name: str, low: float, high: float, whole: bool = False) -> float | None:
    v = query.get(name)
    if v is None:
        return None
    try:
        x = parse_number(v, whole)
    except ValueError:
        x = None
    if x is None or not low < x <= high:
        raise ConfigError(f"{name}={v!r} is not a {'whole ' if whole else ''}number above {low:g} and at most {high:g}")
    return x


def read_link(query) -> Link:
    """A share link's query (a dict-like of strings) as what it fills in; each bad part is left out
    and named in `problems`, so the rest still opens."""
    found, problems = {}, []
    if "design" in query:
        try:
            found["design"] = design_link.design_from_token(str(query["design"]).strip())
        except ConfigError as exc:
            problems.append(str(exc).rstrip("."))
    if "dataset" in query:
        choice = DATASET_CHOICES.get(str(query["dataset"]).strip().lower())
        if choice is None:
            problems.append(f"unknown data set {str(query['dataset'])[:40]!r} (one of {', '.join(DATASET_CHOICES)})")
        else:
            found["dataset_choice"] = choice
    for name, allowed in (("recipe", RECIPES), ("optimizer", OPTIMIZERS)):
        if name in query:
            if query[name] in allowed:
                found[name] = query[name]
            else:
                problems.append(f"unknown {name} {str(query[name])[:40]!r}")
    for name, key, low, high, whole in (
        ("epochs", "epochs", 0, 1000, False),
        ("batch", "batch", 0, 65536, True),
        ("lr", "lr", 0, 10, False),
        ("train", "train_n", 0, MAX_IMAGES, True),
        ("test", "test_n", 0, MAX_IMAGES, True),
    ):
        try:
            v = _number(query, name, low, high, whole)
            if v is not None:
                found[key] = v
        except ConfigError as exc:
            problems.append(str(exc))
    return Link(**found, problems=tuple(problems))
