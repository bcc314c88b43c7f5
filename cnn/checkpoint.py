"""Checkpoints: safetensors weights plus JSON metadata. Loading never unpickles anything.

The metadata (architecture, data set, class names, normalisation, input shape, test accuracy,
recipe, date) is stored as one JSON string under the safetensors header key 'cnn_playground'.
Writes are atomic, so a crash mid-save never leaves a half-written file in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .atomic import atomic_path
from .errors import CheckpointError, ConfigError
from .limits import MAX_CLASSES, check_input
from .models import DESIGN, get_spec

META_KEY = "cnn_playground"
REQUIRED = ("architecture", "classes", "input_shape", "normalization")
# The safetensors header (the tensors' names, shapes and offsets, and the metadata): the shipped
# checkpoints' are 3-5 KB, a 300-layer design's well under 100 KB. A larger one is refused unread.
MAX_HEADER_BYTES = 2 * 2**20


def save_checkpoint(model: torch.nn.Module, metadata: dict, path: str | os.PathLike) -> Path:
    from safetensors.torch import save_file

    missing = [k for k in REQUIRED if k not in metadata]
    if missing:
        raise ValueError(f"checkpoint metadata lacks {missing}")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata={META_KEY: json.dumps(metadata)})
    return path


def rewrite_metadata(path: str | os.PathLike, metadata: dict) -> Path:
    """Replace a checkpoint's metadata, atomically; its weights are written back unchanged."""
    from safetensors.torch import load_file, save_file

    path = Path(path)
    read_metadata(path)  # refuses a file that is not a CNN Playground checkpoint
    missing = [k for k in REQUIRED if k not in metadata]
    if missing:
        raise ValueError(f"checkpoint metadata lacks {missing}")
    tensors = load_file(str(path))
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata={META_KEY: json.dumps(metadata)})
    return path


def read_metadata(path: str | os.PathLike) -> dict:
    """The checkpoint's metadata, without loading the weights."""
    from safetensors import safe_open

    path = Path(path)
    _refuse_non_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(META_KEY)
    except Exception as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({exc}). "
            f"Use a checkpoint written by CNN Playground (python -m cnn.train)."
        ) from None
    if raw is None:
        raise CheckpointError(
            f"{path} is a safetensors file but has no CNN Playground metadata "
            f"(architecture, classes, normalisation), so it cannot be used here."
        )
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise CheckpointError(f"{path} has damaged metadata (not valid JSON).") from None
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(f"{path}'s metadata lacks {', '.join(missing)}.")
    _check_shape(path, meta)
    return meta


def _check_shape(path: Path, meta: dict) -> None:
    """The input shape and classes within cnn.limits: every reader of a checkpoint's metadata
    (loading, fine-tuning, a data set loaded at its image size) can trust them."""
    shape, classes = meta["input_shape"], meta["classes"]
    if not isinstance(shape, list) or len(shape) != 3 or not all(type(v) is int for v in shape):
        raise CheckpointError(f"{path.name}'s metadata has an input_shape that is not [channels, height, width].")
    if not isinstance(classes, list) or len(classes) > MAX_CLASSES or not all(isinstance(c, str) for c in classes):
        raise CheckpointError(f"{path.name}'s metadata must name at most {MAX_CLASSES:,} classes, as a list of names.")
    try:
        check_input(shape[0], max(shape[1], shape[2]), len(classes), path.name)
    except ConfigError as exc:
        raise CheckpointError(f"{exc} The checkpoint is refused.") from None


def load_checkpoint(
    path: str | os.PathLike,
    *,
    expect_architecture: str | None = None,
    expect_classes: int | None = None,
    expect_channels: int | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[torch.nn.Module, dict]:
    """Rebuild the model the metadata names, load the weights, and return (model in eval mode, metadata).

    Refuses, with a message naming the mismatch: a file that is not safetensors (a pickle is never
    unpickled), weights that do not fit the named architecture, and a checkpoint for another
    architecture, class count or channel count than the caller expects.
    """
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_metadata(path)
    arch, classes, shape = meta["architecture"], meta["classes"], meta["input_shape"]
    if expect_architecture and arch != expect_architecture:
        raise CheckpointError(f"{path} holds a {arch} model, not the {expect_architecture} expected here.")
    if expect_classes is not None and len(classes) != expect_classes:
        raise CheckpointError(f"{path} has {len(classes)} classes, but {expect_classes} are needed here.")
    if expect_channels is not None and shape[0] != expect_channels:
        raise CheckpointError(
            f"{path} takes {shape[0]}-channel images, but {expect_channels}-channel ones are needed here."
        )
    model = _build(path, meta)  # within the limits, or refused before anything is allocated
    _check_fits(path, arch, model, _header_shapes(path))  # before the weights are read
    try:
        state = load_file(str(path), device=str(map_location))
    except Exception as exc:
        raise CheckpointError(f"{path}: its weights could not be read ({exc}).") from None
    _check_fits(path, arch, model, {k: tuple(v.shape) for k, v in state.items()})
    model.load_state_dict(state)
    return model.to(map_location).eval(), meta  # load_state_dict copies into the model's own device


def _build(path: Path, meta: dict) -> torch.nn.Module:
    """The model the metadata names; a designed one from its 'design', refused when that is
    missing, malformed or tampered with (unknown layers or arguments, shapes that do not work),
    and any model over the size limits (cnn.models.registry: checked before it is allocated)."""
    arch, classes, shape = meta["architecture"], meta["classes"], meta["input_shape"]
    try:
        spec = get_spec(arch)
    except (ConfigError, TypeError):
        raise CheckpointError(f"{path} names an unknown architecture {arch!r}.") from None
    try:
        return spec.build(shape[0], len(classes), shape[1], design=meta.get("design") if arch == DESIGN else None)
    except (ConfigError, TypeError, ValueError, IndexError) as exc:
        what = "holds a design that cannot be built" if arch == DESIGN else "cannot be used"
        raise CheckpointError(f"{path} {what}: {exc}") from None


def _header_shapes(path: Path) -> dict:
    """Every tensor's shape as the safetensors header declares it (nothing else is read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:
        raise CheckpointError(f"{path}: its weights could not be read ({exc}).") from None


def _check_fits(path: Path, arch: str, model: torch.nn.Module, have: dict) -> None:
    """The tensors' shapes `have` (name -> shape) are the model's own, tensor for tensor."""
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = []
    missing, extra = sorted(want.keys() - have.keys()), sorted(have.keys() - want.keys())
    if missing:
        problems.append(f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    if extra:
        problems.append(f"unexpected {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}")
    problems += [
        f"{k} is {have[k]} but {arch} needs {want[k]}" for k in sorted(want.keys() & have.keys()) if want[k] != have[k]
    ][:5]
    if problems:
        raise CheckpointError(f"{path} does not match the {arch} architecture it names: " + "; ".join(problems) + ".")


def _refuse_non_safetensors(path: Path) -> None:
    """Name the common wrong formats before safetensors tries to parse them."""
    if not path.is_file():
        raise CheckpointError(f"No checkpoint file at {path}.")
    with open(path, "rb") as f:
        head = f.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header. Its first byte is
    # that length's low byte, which can be 0x80 or 'P' too: only a file that is not shaped like
    # safetensors is named a pickle.
    size = int.from_bytes(head[:8], "little")
    shaped = len(head) == 9 and head[8:9] == b"{" and size <= path.stat().st_size
    if not shaped and (head[:2] == b"PK" or head[:1] == b"\x80"):
        raise CheckpointError(
            f"{path} is a PyTorch pickle (torch.save) file. It is refused because unpickling can run "
            f"arbitrary code; convert it to safetensors or train a new checkpoint with python -m cnn.train."
        )
    if not shaped:
        raise CheckpointError(
            f"{path} is not a safetensors file. Use a .safetensors checkpoint written by CNN Playground."
        )
    if size > MAX_HEADER_BYTES:
        raise CheckpointError(
            f"{path.name}'s header is {size / 2**20:.1f} MB; a checkpoint's header (its tensors' names and "
            f"its metadata) is at most {MAX_HEADER_BYTES // 2**20} MB. It is refused unread."
        )
