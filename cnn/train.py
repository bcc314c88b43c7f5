"""python -m cnn.train: an entry point kept at the top of the package; the tool is cnn/cli/train.py."""

import sys

from .cli.train import main

if __name__ == "__main__":
    sys.exit(main())  # main's exit code: 1 for a diverged run, 2 for a bad setting
