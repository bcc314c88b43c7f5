"""Export a checkpoint to ONNX: python -m cnn.export CHECKPOINT --onnx OUT.onnx

The graph takes normalised float32 images with any batch size and returns the logits (with the
test-time flip average baked in where the checkpoint uses it); class names, input shape,
normalisation, temperature and the image preparation ride along as ONNX metadata_props.
examples/predict_onnx.py runs such a file with onnxruntime, numpy and Pillow alone.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from ..serving.onnx_export import export_checkpoint, read_onnx_metadata
from .common import friendly_errors


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cnn.export", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="where to write the ONNX model")
    args = p.parse_args(argv)
    with friendly_errors():
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise ConfigError(
                "Exporting needs the onnx package: pip install onnx (and onnxruntime to run the result)."
            ) from None
        out = export_checkpoint(args.checkpoint, args.onnx)
        meta = read_onnx_metadata(out)
        print(
            f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {meta['architecture']} on {meta['dataset']}, "
            f"input batch x {' x '.join(map(str, meta['input_shape']))}, {len(meta['classes'])} classes, "
            f"temperature {meta['temperature']:.4f}, test-time flip {meta['tta_flip']}, "
            f"preparation {meta['preparation']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
