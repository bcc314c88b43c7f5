"""A run's settings in words for the Runs tab ("learning rate 0.02", "5,000 training images",
"normalized with mean 0.131, std 0.308"), and short legend names that tell runs apart."""

from __future__ import annotations

import os

NAMES = {
    "lr": "learning rate",
    "batch_size": "batch size",
    "weight_decay": "weight decay",
    "label_smoothing": "label smoothing",
    "crop_pad": "random crop padding",
    "lr_start": "learning rate at the start",
    "lr_end": "learning rate at the end",
    "drop_last": "drop the last partial batch",
    "head_only_epochs": "epochs training only the last layer",
    "norm_bias_lr_scale": "batch-norm learning-rate factor",
    "whiten_bias_epochs": "whitening bias epochs",
    "tta_translate": "test-time shifts",
    "alternate_flip": "alternating flips",
    "mixed_precision": "mixed precision",
    "cuda_dtype": "CUDA number type",
    "train images": "training images",
    "test images": "test images",
}
LEGEND_CHARS = 22  # a legend name longer than this keeps its start and end


def number(v) -> str:
    """A number as a person writes it: 3 significant digits, thousands separated."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int) or float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:.3g}"


def _per_channel(values) -> str:
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    return "/".join(number(v) for v in values)


def value_words(name: str, v) -> str:
    """One setting's value in words (its name left out)."""
    if name == "normalize":
        if not v:
            return "the data set's own"
        mean, std = v
        return f"mean {_per_channel(mean)}, std {_per_channel(std)}"
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, (list, tuple)):
        return ", ".join(number(x) for x in v)
    return number(v)


def setting_name(name: str) -> str:
    return NAMES.get(name, name.replace("_", " "))


def setting_words(name: str, v) -> str:
    """'learning rate 0.02', '2 epochs', '5,000 training images', 'normalized with mean 0.131, std 0.308'."""
    if name == "epochs":
        return f"{number(v)} epoch{'' if v == 1 else 's'}"
    if name in ("train images", "test images"):
        return f"{number(v)} {setting_name(name)}"
    if name == "normalize":
        return f"normalized with {value_words(name, v)}"
    return f"{setting_name(name)} {value_words(name, v)}"


def legend_names(keys: list[str]) -> dict[str, str]:
    """A short name for each run, for plot legends: what tells it apart from the others (the part
    after their shared start, cut at a '-'), its middle dropped when long; the whole name when the
    result would not be unique."""
    if len(keys) < 2:
        short = {k: k for k in keys}
    else:
        prefix = os.path.commonprefix(keys)
        cut = prefix.rfind("-") + 1 if "-" in prefix else 0
        short = {k: k[cut:] or k for k in keys}
    out = {}
    for k, s in short.items():
        if len(s) > LEGEND_CHARS:
            half = (LEGEND_CHARS - 1) // 2
            s = s[:half] + "…" + s[-half:]
        out[k] = s
    return out if len(set(out.values())) == len(out) else {k: k for k in keys}
