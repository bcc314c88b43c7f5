"""A checkpoint as an ONNX model that reproduces the app's predictions without PyTorch.

The graph takes normalised float32 images (batch x C x H x W, any batch size) and returns the
logits before the temperature. Where the checkpoint asks for a test-time flip, the graph runs each
image and its mirror as one batch and averages their logits, as the Predictor does. The rest of
what it takes to reproduce a prediction rides along as ONNX metadata_props (all strings):

    cnn_playground.classes        JSON list of class names, in logit order
    cnn_playground.input_shape    JSON [C, H, W]
    cnn_playground.mean / .std    JSON per-channel lists: input = (pixel / 255 - mean) / std
    cnn_playground.temperature    probabilities = softmax(logits / temperature)
    cnn_playground.tta_flip       "in_graph" (the flip average is baked in) or "none"
    cnn_playground.preparation    "mnist_digit" or "centre_crop", and .preparation_note in words
    cnn_playground.architecture, .dataset, .test_accuracy, .checkpoint_sha256

examples/predict_onnx.py reads them back with onnxruntime, numpy and Pillow alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from ..atomic import atomic_path
from ..checkpoint import load_checkpoint
from ..data import IMAGE_PREPARATIONS, image_preparation

PREFIX = "cnn_playground."
OPSET = 17
EXPORT_VERSION = 2  # bump when the graph or the metadata changes: cached exports are then redone (2: preparation)
# torch.onnx.export keeps process-wide state (GLOBALS.in_onnx_export and friends): two exports at
# once, from two runs finishing together, fail with "GLOBALS.in_onnx_export must be False". One at a time.
_EXPORT_LOCK = threading.Lock()

DIGIT_NOTE = (
    "MNIST-style digit preparation (cnn/serving/digits.py): find the ink against the border's "
    "median colour (or by alpha), crop it, thicken or thin its strokes into MNIST's width range "
    "at a 100 px working size, scale the longer side to 20 px and centre it by centre of mass "
    "in 28x28, white ink on black."
)
PHOTO_NOTE = (
    "Photo preparation (cnn/serving/photos.py): flatten transparency onto white, convert to "
    "RGB (or grey for 1 channel), centre crop to a square and resize to H x W with Lanczos "
    "(PIL ImageOps.fit)."
)


class _Exported(nn.Module):
    """The model as the Predictor runs it: with tta_flip, an image and its mirror as one batch,
    their logits averaged (the same arithmetic as cnn.evaluation.tta_logits with stack=True)."""

    def __init__(self, model: nn.Module, flip: bool):
        super().__init__()
        self.model, self.flip = model, flip

    def forward(self, x):
        if not self.flip:
            return self.model(x).float()
        return self.model(torch.cat((x, x.flip(3)))).float().view(2, x.shape[0], -1).mean(0)


def preparation(metadata: dict) -> str:
    """The checkpoint's own preparation (metadata 'preparation': 'mnist_digit', the Draw tab's, or
    'centre_crop', the Photo tab's); for a checkpoint from before that field, the one the app gives
    it: a Teach project's by its kind, any other model's by its input channels."""
    prep = metadata.get("preparation")
    if prep in IMAGE_PREPARATIONS:
        return prep
    project = metadata.get("project")
    kind = project.get("kind") if isinstance(project, dict) else None
    return image_preparation(int(metadata["input_shape"][0]), kind)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def onnx_metadata(metadata: dict, sha256: str = "") -> dict[str, str]:
    """The metadata_props an export carries (all values strings)."""
    c = int(metadata["input_shape"][0])
    mean, std = list(metadata["normalization"]["mean"]), list(metadata["normalization"]["std"])
    if len(mean) != c:  # as cnn.data.normalize.Normalizer: one value for all channels, or their average
        mean, std = [sum(mean) / len(mean)] * c, [sum(std) / len(std)] * c
    prep = preparation(metadata)
    props = {
        "classes": json.dumps([str(k) for k in metadata["classes"]]),
        "input_shape": json.dumps([int(v) for v in metadata["input_shape"]]),
        "mean": json.dumps([float(v) for v in mean]),
        "std": json.dumps([float(v) for v in std]),
        "temperature": repr(float(metadata.get("temperature", 1.0))),
        "tta_flip": "in_graph" if metadata.get("tta_flip") else "none",
        "preparation": prep,
        "preparation_note": DIGIT_NOTE if prep == "mnist_digit" else PHOTO_NOTE,
        "architecture": str(metadata.get("architecture", "")),
        "dataset": str(metadata.get("dataset", "")),
        "test_accuracy": str(metadata.get("test_accuracy", "")),
        "checkpoint_sha256": sha256,
        "export_version": str(EXPORT_VERSION),
    }
    return {PREFIX + k: v for k, v in props.items()}


def export_model(model: nn.Module, metadata: dict, out: str | os.PathLike, sha256: str = "") -> Path:
    """Write the model (on the CPU, eval mode, dynamic batch size) and its metadata to `out`, atomically."""
    import onnx  # an optional dependency, like onnxruntime: only an export needs it

    c, h, w = (int(v) for v in metadata["input_shape"])
    wrapped = _Exported(model, bool(metadata.get("tta_flip", False))).cpu().eval()
    out = Path(out)
    with _EXPORT_LOCK, atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            wrapped,
            (torch.zeros(2, c, h, w),),
            tmp,
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
        proto = onnx.load(tmp)
        for k, v in onnx_metadata(metadata, sha256).items():
            proto.metadata_props.add(key=k, value=v)
        proto.doc_string = f"CNN Playground {metadata.get('architecture', 'model')}; see metadata_props"
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)
    return out


def export_checkpoint(path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """A checkpoint file exported to `out` (see export_model)."""
    model, meta = load_checkpoint(path)
    return export_model(model, meta, out, file_sha256(path))


def read_onnx_metadata(path: str | os.PathLike) -> dict:
    """An export's metadata_props, decoded (JSON values parsed, the prefix dropped)."""
    import onnx

    props = {
        p.key[len(PREFIX) :]: p.value
        for p in onnx.load(str(path), load_external_data=False).metadata_props
        if p.key.startswith(PREFIX)
    }
    for k in ("classes", "input_shape", "mean", "std"):
        if k in props:
            props[k] = json.loads(props[k])
    if "temperature" in props:
        props["temperature"] = float(props["temperature"])
    return props
