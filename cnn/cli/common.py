"""What the command-line tools share: clean error exits and the data/device flags."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager

from ..errors import CnnError


def add_data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data directory (default: $CNN_DATA_DIR, else ./data)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")


@contextmanager
def friendly_errors():
    """A CnnError ends the program with its message and exit code 2, never a stack trace."""
    try:
        yield
    except CnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
