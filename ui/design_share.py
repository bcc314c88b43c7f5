"""Share links for designs: the page's query holds the design (cnn.models.design_link's token), the
data set and the recipe, as TensorFlow Playground keeps its network in its URL. Reading a link names
each bad part and keeps the rest, so a damaged link still opens the page."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlencode

from cnn.errors import ConfigError
from cnn.models import design_link
from cnn.training.recipes import OPTIMIZERS, RECIPES

from .common import DATASETS
from .design_edits import as_layers

MAX_IMAGES = 10_000_000  # a quick run's sizes in a link (a run takes at most its data set's own)


def encode_design(design: list) -> str:
    """A design as a link's `design=` token (cnn.models.design_link: compressed, base64url)."""
    return design_link.design_to_token(design)


def decode_design(text: str) -> list:
    """A link's `design=` token back to a list of layers; a ConfigError says what is wrong with it."""
    return design_link.design_from_token(str(text or "").strip())


# The link's names for Start's settings, in share_query's order (the design and data set before them).
SETTINGS = ("recipe", "epochs", "batch", "lr", "optimizer", "train", "test")
LINK_KEYS = {"design", "dataset", *SETTINGS}


def share_query(design, dataset_choice, recipe, epochs, batch, lr, optimizer, train_n="", test_n="") -> str:
    """The query that opens the page with this design, data set and every setting Start uses (the
    quick run's training and test images too): `?design=...&...`."""
    q = {"design": encode_design(as_layers(design))}
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
        x = float(v)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and low < x <= high) or (whole and not x.is_integer()):
        raise ConfigError(f"{name}={v!r} is not a {'whole ' if whole else ''}number above {low:g} and at most {high:g}")
    return int(x) if whole else x


def read_link(query) -> Link:
    """A share link's query (a dict-like of strings) as what it fills in; each bad part is left out
    and named in `problems`, so the rest still opens."""
    found, problems = {}, []
    if "design" in query:
        try:
            found["design"] = decode_design(query["design"])
        except ConfigError as exc:
            problems.append(str(exc).rstrip("."))
    if "dataset" in query:
        named = {v: k for k, v in DATASETS.items() if v}
        choice = named.get(str(query["dataset"]).strip().lower())
        if choice is None:
            problems.append(f"unknown data set {str(query['dataset'])[:40]!r} (one of {', '.join(named)})")
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
