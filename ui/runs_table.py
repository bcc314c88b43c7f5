"""The Runs tab's table: each kept run as one row in words (its model, data, accuracy, status, problems,
the settings changed from its preset, how long it trained)."""

from __future__ import annotations

import pandas as pd

from cnn.run_index import RunEntry

from .run_words import setting_words

# What a person looks for first comes first, so that it fits a 1280 px screen with the rest wrapped.
COLUMNS = [
    "Run",
    "Model",
    "Data",
    "Test accuracy",
    "Status",
    "Problems",
    "Changed settings",
    "Trained",
    "Date",
]
WIDTHS = ["17%", "10%", "8%", "8%", "11%", "14%", "15%", "10%", "7%"]


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.2f}%"


def _quick_run(e: RunEntry) -> dict:
    """A quick run's image counts (what it trained and tested on), as settings."""
    out = {}
    if e.train_subset is not None:
        out["train images"] = e.n_train if e.n_train is not None else e.train_subset
    if e.test_subset is not None:
        out["test images"] = e.n_test if e.n_test is not None else e.test_subset
    return out


def changed(e: RunEntry) -> str:
    """The settings changed from the preset, in words, a quick run's image counts included."""
    if e.overrides is None:
        return "(preset unknown)" if e.recipe else ""
    settings = {**e.overrides, **_quick_run(e)}
    return ", ".join(setting_words(k, v) for k, v in settings.items())


def _trained(e: RunEntry) -> str:
    """'2 epochs · 41.2 s · cpu'."""
    parts = [
        "" if e.epochs is None else setting_words("epochs", round(e.epochs, 2)),
        "" if e.train_seconds is None else f"{e.train_seconds:.1f} s",
        e.device,
    ]
    return " · ".join(p for p in parts if p)


def row(e: RunEntry) -> list:
    return [
        e.key,
        e.model,
        f"project {e.project}" if e.project else e.dataset,
        _pct(e.test_accuracy),
        e.status + (f" (continued from {e.parent})" if e.parent else ""),
        "; ".join(e.problems),
        "; ".join(p for p in (f"preset {e.recipe['name']}" if e.recipe.get("name") else "", changed(e)) if p),
        _trained(e),
        e.date[:16].replace("T", " "),
    ]


def runs_frame(entries: list[RunEntry]) -> pd.DataFrame:
    return pd.DataFrame([row(e) for e in entries], columns=COLUMNS)
