"""The one parser of the numbers a person types or a client sends: the Train tab's quick-run boxes,
/train's settings, a share link's query and the editor's estimate all read numbers through it."""

from __future__ import annotations

import math


def parse_number(value, whole: bool = False) -> float | int | None:
    """' 2.5 ', 3, and for a whole number '1,000' or '1_000', as a number; None when empty (the
    caller's default). Raises ValueError for anything else: not a number, not finite, not whole where
    `whole` asks, or a comma in a fraction ('1,5' may mean 1.5 or 15: said, not guessed)."""
    if value is None:
        return None
    text = str(value).strip().replace("_", "")
    text = text.replace(",", "") if whole else text
    if not text:
        return None
    try:
        x = float(text)
    except OverflowError:
        raise ValueError(f"not a finite number: {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {value!r}")
    if whole:
        if not x.is_integer():
            raise ValueError(f"not a whole number: {value!r}")
        return int(x)
    return x
