"""python -m cnn.augment: an entry point kept at the top of the package; the tool is cnn/cli/augment.py."""

import sys

from .cli.augment import main

if __name__ == "__main__":
    sys.exit(main())
