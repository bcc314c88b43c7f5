"""python -m cnn.models [NAME ...]: the layer table of named models (an entry point, see cnn/cli)."""

from ..cli.models import main

main()
