"""One training run of the app, as data: its settings, every event so far, its result."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data import Dataset
from ..training import End, EpochEnd, Recipe, RunStatus, Snapshot, Start, Step
from .config import RunConfig


@dataclass(eq=False)  # a run is itself: `in` and `remove` compare identity, not tensors and locks
class Run:
    id: str
    config: RunConfig
    session: str | None
    device: str
    status: RunStatus = RunStatus.LOADING
    owner: str | None = None  # whose folder it lives in: a login, a browser's identity; None on one person's machine
    person: str | None = None  # who holds its place when more than a session or owner: a client address
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    start: Start | None = None
    steps: list[Step] = field(default_factory=list)
    epochs: list[EpochEnd] = field(default_factory=list)
    end: End | None = None
    checkpoint: Path | None = None
    data: Dataset | None = None
    started_at: float = field(default_factory=time.time)  # when it was asked for (then reset when its turn came)
    recipe: Recipe | None = None  # what it trains with (the settings, checked)
    note: str = ""  # what it does now, when not the status alone says it
    final_step: int | None = None  # the step it ended at (from its End event)
    snapshot: Snapshot | None = None  # the live panel's latest
    snapshots: int = 0  # how many so far (a page redraws the panel when this changes)
    panel_images: torch.Tensor | None = None  # the live panel's fixed test images (uint8 N x C x H x W)
    panel_labels: list[int] = field(default_factory=list)  # and their true classes
    last_viewed: float = field(default_factory=time.monotonic)  # when a page last looked at it
    version: int = 0
    stop_event: threading.Event = field(default_factory=threading.Event)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def done(self) -> bool:
        return self.status.done

    def _touch(self) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait(self, seen_version: int, timeout: float) -> int:
        """Block until something changed since seen_version (or timeout); return the version."""
        with self._changed:
            if self.version == seen_version and not self.done:
                self._changed.wait(timeout)
            return self.version

    def stop(self) -> None:
        self.stop_event.set()

    def belongs_to(self, session: str | None, owner: str | None) -> bool:
        """Whether this is the run of login `owner` (with logins, a run belongs to the login alone: the
        next user of a shared browser does not get it), else of the person on `session`."""
        if owner is not None:
            return self.owner == owner
        return session is not None and self.owner is None and self.session == session

    @property
    def name(self) -> str:
        """The run's name as the Runs tab lists it (its checkpoint's file name without the suffix);
        '' before it is saved."""
        return self.checkpoint.stem if self.checkpoint else ""

    def viewed(self) -> None:
        """A page looked at the run (see RunManager's stop_unwatched_after)."""
        self.last_viewed = time.monotonic()

    # ------------------------------------------------------------ as data (ui.run_view shows it)

    def loss_points(self) -> list[dict]:
        return [{"epoch": round(s.epoch, 4), "step": s.step, "loss": s.loss} for s in list(self.steps)]

    def accuracy_points(self) -> list[dict]:
        out = []
        for e in list(self.epochs):
            out.append({"epoch": e.epoch, "accuracy": e.train_accuracy, "split": "train"})
            if e.test_accuracy is not None:
                out.append({"epoch": e.epoch, "accuracy": e.test_accuracy, "split": "test"})
        return out

    def progress(self) -> dict:
        """step, total, fraction, eta (s), images_per_s, elapsed (s), epoch, and while it trains on
        the CPU the threads it uses (cnn.cpu_share)."""
        last = self.steps[-1] if self.steps else None
        total = self.start.total_steps if self.start else 0
        if last is None and self.final_step is None:
            return {
                "step": 0,
                "total": total,
                "fraction": 0.0,
                "eta": None,
                "images_per_s": None,
                "elapsed": time.time() - self.started_at,
                "epoch": 0.0,
            }
        if self.final_step is None:
            return {
                "step": last.step,
                "total": total,
                "fraction": last.step / max(1, total),
                "eta": 0.0 if self.done else last.eta,
                "images_per_s": last.images_per_s,
                "elapsed": last.elapsed,
                "epoch": last.epoch,
                "threads": last.threads,
            }
        step, per_epoch = self.final_step, self.start.steps_per_epoch if self.start else 1
        return {
            "step": step,
            "total": total,
            "fraction": step / max(1, total),
            "eta": 0.0,
            "images_per_s": last.images_per_s if last else None,
            "threads": last.threads if last else None,
            "elapsed": self.end.elapsed if self.end else last.elapsed,
            "epoch": step / max(1, per_epoch),
        }

    def misclassified(self, limit: int = 24) -> list[tuple[torch.Tensor, str, str]]:
        """(uint8 C x H x W image, true class, predicted class), most confidently wrong first."""
        if self.end is None or self.end.evaluation is None or self.data is None:
            return []
        ev, test, classes = self.end.evaluation, self.data.test, self.data.classes
        return [
            (test.images[i], classes[int(test.labels[i])], classes[int(ev.predictions[i])])
            for i in ev.misclassified(test.labels, limit)
        ]
