"""python -m cnn.models [NAME ...]: print the layer table of named models (all when none is named);
python -m cnn.models --layers DESIGN.json [--dataset mnist]: the table of a design."""

from __future__ import annotations

import argparse

from ..data.sources import NAMED_CLASSES, NAMED_SHAPES, named_source
from ..errors import ConfigError
from ..models import MODELS, get_spec, parse
from ..models.design import load_design_file
from ..models.summary import format_table
from .common import friendly_errors


def main(argv=None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m cnn.models", description="Print the layer table of named models (all when none is named)."
    )
    p.add_argument("names", nargs="*", help=f"model names: {', '.join(MODELS)}")
    p.add_argument("--layers", metavar="DESIGN.json", help="print the table of this design instead (docs/design.md)")
    p.add_argument(
        "--dataset", default="mnist", help="with --layers: the data set whose images it takes (default mnist)"
    )
    p.add_argument("--batch-size", type=int, default=64, help="with --layers: the batch its size limits are for")
    args = p.parse_args(argv)
    if args.layers:
        with friendly_errors():
            key = named_source(args.dataset)
            if key is None:
                raise ConfigError(f"--dataset must be one of {', '.join(NAMED_SHAPES)} (got {args.dataset!r}).")
            design = parse(load_design_file(args.layers), NAMED_SHAPES[key], NAMED_CLASSES[key], args.batch_size)
            print(design.format_table(f"{args.layers} on {key}: {design.summary()}"))
        return
    for name in args.names or list(MODELS):
        spec = get_spec(name)
        print(format_table(spec.build(), spec.input_shape, f"{name}: {spec.about}"))
        print()
