"""python -m cnn.export: an entry point kept at the top of the package; the tool is cnn/cli/export.py."""

from .cli.export import main

if __name__ == "__main__":
    main()
