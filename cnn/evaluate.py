"""python -m cnn.evaluate: an entry point kept at the top of the package; the tool is cnn/cli/evaluate.py."""
from .cli.evaluate import main

if __name__ == "__main__":
    main()
