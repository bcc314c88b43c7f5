"""Preview a run's augmentation: python -m cnn.augment --dataset mnist --augment SPEC --out grid.png

Writes 16 training images of the data set (or a Teach project's folder), each as it is and as
augmented, by the function training calls. Without --augment: the recipe's own augmentation."""

from __future__ import annotations

import argparse
import sys

from ..data.augment_preview import preview, sample
from ..data.augment_spec import parse as parse_augment
from ..projects import load_training_data
from ..training import RECIPES, get_recipe
from ..training.defaults import fast_default
from .common import add_data_flags, friendly_errors


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m cnn.augment", description=__doc__.split("\n")[0])
    p.add_argument("--dataset", required=True, help="mnist, fashion-mnist, cifar10, an image folder or a project")
    p.add_argument("--recipe", choices=list(RECIPES), help="whose augmentation (default: the data set's fast one)")
    p.add_argument("--augment", metavar="SPEC", help="name=value pairs, e.g. rotate=15,elastic=0.3 ('none': off)")
    p.add_argument("--seed", type=int, default=0, help="the random draw (another seed: other augmentations)")
    p.add_argument("--out", required=True, help="the picture to write (PNG)")
    add_data_flags(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    with friendly_errors():
        if args.augment is not None:
            parse_augment(args.augment)  # a bad spec ends the program before any data loads
        data = load_training_data(args.dataset, args.data_dir, allow_any_path=True)
        base = get_recipe(args.recipe) if args.recipe else fast_default(args.dataset, "cpu", data.input_shape)
        recipe = base.with_augment(args.augment)
        recipe.validate()
        shown = preview(sample(data.train.images), recipe, args.seed)
        shown.picture.save(args.out)
        print(shown.caption(recipe.augment))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
