"""python -m cnn.train: an entry point kept at the top of the package; the tool is cnn/cli/train.py."""
from .cli.train import main

if __name__ == "__main__":
    main()
