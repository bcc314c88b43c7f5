"""python -m cnn.models [NAME ...]: print the layer table of named models (all when none is named)."""

from __future__ import annotations

import argparse

from ..models import MODELS, get_spec
from ..models.summary import format_table


def main(argv=None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m cnn.models", description="Print the layer table of named models (all when none is named)."
    )
    p.add_argument("names", nargs="*", help=f"model names: {', '.join(MODELS)}")
    args = p.parse_args(argv)
    for name in args.names or list(MODELS):
        spec = get_spec(name)
        print(format_table(spec.build(), spec.input_shape, f"{name}: {spec.about}"))
        print()
