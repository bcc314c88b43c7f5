"""python -m cnn.evaluate: an entry point kept at the top of the package; the tool is cnn/cli/evaluate.py."""

import sys

from .cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())  # main's exit code: 0, or 2 for a bad checkpoint or setting
