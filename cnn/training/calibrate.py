"""Temperature scaling at the end of every run (Guo et al. 2017), on images the model never trained on.

Before training, the engine holds out a fixed random slice of the training split: min(5,000, 10%)
of it. 5,000 images pin a single number (T) down to well under 1% (the NLL is smooth and convex in
1/T), and the ECE of 15 bins on them to about a point; more would only cost training data, and 10%
caps what a small data set gives up. A training split too small to spare 100 images (a Teach
project: a few dozen drawings) has its held-out split (the test split, one in five examples) used
instead, as the only images the model did not learn from; the metadata says which. Fitted on
fewer than 100 images, T is kept within [0.5, 2] (SMALL_FIT_BOUNDS). The calibration error is
measured on the images T was fitted on; for such a project those are also its held-out test
images, so its error after T is not a held-out figure, and every message says so
(`calibration_caveat`; metadata calibration.ece_held_out is False).

After training, the model's logits on that slice (averaged as predictions average them: over the
mirror image where the run flips, not over the shifts the test set is also scored with) give the
temperature, which goes into the checkpoint's metadata (`temperature`, and `calibration` with the
ECE and NLL before and after it and both reliability diagrams). The slice is drawn with its own
generator, so every torchrun rank holds out the same images and the run's other random draws are
unchanged; rank 0 fits, as it evaluates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import torch

from ..calibration import ECE_BINS, METHOD, calibration_temperature, temperature_report
from ..data import Split
from ..errors import ConfigError
from ..evaluation import EvalPlan, evaluate

HOLDOUT_MAX = 5000  # at most this many training images are held out
HOLDOUT_SHARE = 0.10  # and at most this share of them
HOLDOUT_MIN = 100  # below this, the held-out (test) split is used instead
HOLDOUT_SEED = 20170614  # the slice is the same for every run, seed and rank (Guo et al.'s arXiv date)
# With fewer than HOLDOUT_MIN images to fit on (a Teach project's held-out few), T is kept within
# these bounds: a handful of right answers would otherwise drive it towards 0, i.e. certainty. (The
# NLL is convex in 1/T, so clamping the fitted T is the best T within the bounds.)
SMALL_FIT_BOUNDS = (0.5, 2.0)


@dataclass
class Holdout:
    """What a run trains on and what its temperature is fitted on."""

    train: Split  # the training images the model learns from
    fit: Split | None  # the images the temperature is fitted on (None: no fit)
    fit_on: str = "none"  # 'train_holdout', 'test' or 'none'
    where: str = ""  # in words, for the metadata


def holdout_size(n_train: int, requested: int | None) -> int:
    """How many training images to hold out: `requested` when given (0: none), else min(5,000, 10%)."""
    if requested is None:
        return min(HOLDOUT_MAX, int(n_train * HOLDOUT_SHARE))
    if int(requested) != requested or not 0 <= requested < n_train:
        raise ConfigError(
            f"The calibration hold-out must be a whole number of images from 0 (none) to "
            f"{n_train - 1} (got {requested})."
        )
    return int(requested)


def split_holdout(train: Split, test: Split, requested: int | None) -> Holdout:
    """The run's training images and its calibration images (see the module's doc). requested:
    None (the default rule), 0 (no hold-out and no fit: every image trains, as before) or a count."""
    if requested == 0:
        return Holdout(train, None)
    k = holdout_size(len(train), requested)
    if requested is None and k < HOLDOUT_MIN:
        return Holdout(
            train,
            test,
            "test",
            f"the {len(test)} held-out test images (the training set of {len(train)} is too small to spare any)",
        )
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    held, kept = perm[:k], perm[k:].sort().values  # the kept images in their order
    return Holdout(
        Split(train.images[kept], train.labels[kept]),
        Split(train.images[held], train.labels[held]),
        "train_holdout",
        f"{k} training images held out before training (seed {HOLDOUT_SEED})",
    )


def fit_on_holdout(
    model: torch.nn.Module,
    hold: Holdout,
    normalize,
    num_classes: int,
    *,
    tta_flip: bool,
) -> dict | None:
    """Fit the temperature on the hold-out: {'temperature': T, 'calibration': {...}} for the
    checkpoint's metadata, or None when there is nothing to fit on. The logits are those the app
    serves (EvalPlan.served: the mirror where tta_flip, no shifts, in fp32 whatever the run trained
    in), so the temperature calibrates what the app shows."""
    if hold.fit is None or len(hold.fit) == 0:
        return None
    ev = evaluate(model, hold.fit, normalize, num_classes, EvalPlan.served(tta_flip))
    labels = hold.fit.labels.cpu()
    t, t_nll = calibration_temperature(ev.served_logits, labels)
    bounded = len(labels) < HOLDOUT_MIN and not SMALL_FIT_BOUNDS[0] <= t <= SMALL_FIT_BOUNDS[1]
    if len(labels) < HOLDOUT_MIN:
        t = min(max(t, SMALL_FIT_BOUNDS[0]), SMALL_FIT_BOUNDS[1])
    report = temperature_report(ev.served_logits, labels, t, ECE_BINS)
    report["ece_images"] = report.pop("images")
    cal = {
        "method": METHOD,
        "fit_on": hold.fit_on,
        "fitted_on": hold.where,
        "seed": HOLDOUT_SEED,
        **report,
        "temperature_nll": t_nll,
        "accuracy": ev.accuracy,
        "bounded": bounded,
        # the ECE is measured on the images T was fitted on: for a fit on the test split, these are
        # the very images the run reports as held out, so the ECE after T is not a held-out figure
        "ece_held_out": hold.fit_on != "test",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return {"temperature": t, "calibration": cal}


def calibration_caveat(cal: dict) -> str:
    """For a temperature fitted on the test split (a tiny project): that its calibration error is
    measured on those same images, so it is not a held-out figure ('' otherwise)."""
    if cal.get("fit_on") != "test":
        return ""
    return (
        "The temperature was fitted on these same held-out examples (too few to spare others), so "
        "the error after it is measured on the images it was fitted on: not a held-out figure."
    )


def calibration_line(metadata: dict) -> str:
    """'Temperature 0.520 fitted on ...: expected calibration error (15 bins) 3.10% before it, 0.40%
    after.' for the End message and the CLI ('' for metadata without a fitted temperature)."""
    cal = metadata.get("calibration")
    if "temperature" not in metadata or not cal:
        return ""
    line = (
        f"Temperature {metadata['temperature']:.3f} fitted on {cal['fitted_on']}: expected calibration "
        f"error ({cal['bins']} bins) {cal['ece_before']:.2%} before it, {cal['ece_after']:.2%} after."
    )
    return " ".join(filter(None, [line, calibration_caveat(cal)]))
