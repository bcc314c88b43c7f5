"""Every run kept: its whole event history as JSON lines beside its checkpoint, and TensorBoard scalars.

`RunLog` writes one JSON object a line to `<checkpoint stem>.jsonl`: a header (kind 'run': recipe,
data set, source), then each engine event (Start, every Step, every EpochEnd, End without the
model), each line flushed as written, so a killed run leaves a log readable up to its last event;
a failed run ends with a kind 'failed' line. `read_log` reads one back, skipping and counting lines
that are not whole JSON objects (a killed writer's half line). `TensorBoardLog` writes the run as
TensorBoard scalars (torch's SummaryWriter; an unwritable folder only warns). `RunRecorder`: both.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .data.augment_spec import FIELDS as AUGMENT_FIELDS
from .data.augment_spec import format_spec
from .errors import CnnError
from .training.events import End, EpochEnd, Start, Step

LOG_FORMAT = 1
Warn = Callable[[str], None]


class RunLogError(CnnError):
    """A run log cannot be written or read."""


def print_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def log_path(checkpoint: str | os.PathLike) -> Path:
    """The log of a checkpoint: the same folder and stem, suffix .jsonl."""
    return Path(checkpoint).with_suffix(".jsonl")


def run_header(recipe: dict, dataset: str, source: str, **extra) -> dict:
    """The log's first line: what the run was asked to do (recipe as a dict: Recipe.as_dict())."""
    return {
        "kind": "run",
        "format": LOG_FORMAT,
        "source": source,
        "dataset": dataset,
        "recipe": recipe,
        **({"augment": format_spec(recipe)} if any(f in recipe for f in AUGMENT_FIELDS) else {}),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def event_record(ev) -> dict:
    """An engine event as a JSON-able dict; End leaves out the model and the per-image predictions."""
    if isinstance(ev, End):
        ev_result = ev.evaluation
        evaluation = (
            None
            if ev_result is None
            else {"accuracy": ev_result.accuracy, "loss": ev_result.loss, "confusion": ev_result.confusion.tolist()}
        )
        return {
            "kind": "end",
            "status": ev.status.value,
            "message": ev.message,
            "test_accuracy": ev.test_accuracy,
            "elapsed": ev.elapsed,
            "metadata": ev.metadata,
            "evaluation": evaluation,
        }
    if isinstance(ev, (Start, Step, EpochEnd)):
        return dataclasses.asdict(ev)
    raise TypeError(f"not a training event: {type(ev).__name__}")


class RunLog:
    """Appends a run's events to its .jsonl log, one flushed line each."""

    def __init__(self, path: Path, file, warn: Warn):
        self.path, self._file, self._warn = path, file, warn

    @classmethod
    def open(cls, path: str | os.PathLike, header: dict | None = None, warn: Warn = print_warning) -> RunLog:
        """Start the log at path (replacing an older one), with its header line. A log that cannot
        be created is refused with a message (the checkpoint could not be saved there either)."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            file = open(path, "w", encoding="utf-8")
        except OSError as exc:
            raise RunLogError(
                f"Cannot write the run log {path} ({exc.strerror or exc}). Choose a folder you can write to."
            ) from None
        log = cls(path, file, warn)
        if header is not None:
            log._line(header)
        return log

    def write(self, ev) -> None:
        """Append one engine event (Start, Step, EpochEnd or End)."""
        self._line(event_record(ev))

    def fail(self, message: str) -> None:
        """The run ended in an error: say so as the log's last line."""
        self._line({"kind": "failed", "message": message})

    def close(self, checkpoint: str | os.PathLike | None = None) -> Path:
        """Close the log; given the checkpoint the run was saved as, the log takes its stem."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if checkpoint is not None and log_path(checkpoint) != self.path:
            try:
                os.replace(self.path, log_path(checkpoint))
                self.path = log_path(checkpoint)
            except OSError as exc:
                self._warn(f"could not rename the run log {self.path} to {log_path(checkpoint)} ({exc})")
        return self.path

    def _line(self, record: dict) -> None:
        if self._file is None:
            return
        try:
            self._file.write(json.dumps(record, default=str) + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk: training goes on, the log stops here
            self._warn(f"the run log {self.path} could not be written ({exc}); it stops here")
            self._file.close()
            self._file = None


# ---------------------------------------------------------------- reading


@dataclass
class RunHistory:
    """A log read back. skipped: lines that were not whole JSON objects of a known shape."""

    path: Path
    header: dict | None = None
    start: Start | None = None
    steps: list[Step] = field(default_factory=list)
    epochs: list[EpochEnd] = field(default_factory=list)
    end: dict | None = None  # the End event's record (event_record), when the run got there
    failure: str | None = None  # the message of a run that failed
    skipped: int = 0
    lines: int = 0

    @property
    def complete(self) -> bool:
        return self.end is not None or self.failure is not None

    @property
    def imported(self) -> bool:
        return bool(self.header and self.header.get("source") == "import")

    def problems(self) -> list[str]:
        out = []
        if self.skipped:
            out.append(f"log: {self.skipped} of {self.lines} line(s) unreadable, skipped")
        if self.lines and self.skipped == self.lines:
            out.append("log: nothing readable in it")
        elif not self.complete and not self.imported:
            out.append("log: no end (the run was killed, or is still training)")
        return out


_TYPES = {"start": Start, "step": Step, "epoch": EpochEnd}


def _event(record: dict):
    cls = _TYPES[record["kind"]]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in record.items() if k in names})


def read_log(path: str | os.PathLike) -> RunHistory:
    """Read a run log, skipping lines that cannot be read (a killed run's half-written last line)."""
    path = Path(path)
    out = RunHistory(path)
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RunLogError(f"Cannot read the run log {path} ({exc.strerror or exc}).") from None
    with f:
        for line in f:
            if not line.strip():
                continue
            out.lines += 1
            try:
                _add(out, json.loads(line))
            except (ValueError, TypeError, KeyError):
                out.skipped += 1
    return out


def _add(out: RunHistory, record) -> None:
    kind = record["kind"]  # TypeError or KeyError for a line that is not an event
    if kind == "run":
        out.header = record
    elif kind in _TYPES:
        ev = _event(record)
        if kind == "start":
            out.start = ev
        else:
            (out.steps if kind == "step" else out.epochs).append(ev)
    elif kind == "end":
        out.end = record
    elif kind == "failed":
        out.failure = str(record.get("message", ""))
    else:
        raise KeyError(kind)


# ---------------------------------------------------------------- TensorBoard


class TensorBoardLog:
    """A run as TensorBoard scalars: loss, learning rate and images/s per Step; train and test
    accuracy (and loss) per epoch; the recipe as hparams with the final test accuracy. A folder
    that cannot be written, or no TensorBoard installed, warns once and writes nothing."""

    def __init__(self, logdir: str | os.PathLike, warn: Warn = print_warning):
        self.logdir, self._warn, self.writer = Path(logdir), warn, None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warn("TensorBoard is not installed (pip install tensorboard); the run goes on without it.")
            return
        try:
            self.writer = SummaryWriter(log_dir=str(self.logdir))
        except Exception as exc:
            self._give_up(exc)

    def write(self, ev) -> None:
        if self.writer is None:
            return
        try:
            self._write(ev)
        except Exception as exc:
            self._give_up(exc)

    def _write(self, ev) -> None:
        w = self.writer
        if isinstance(ev, Step):
            w.add_scalar("train/loss", ev.loss, ev.step)
            w.add_scalar("train/lr", ev.lr, ev.step)
            w.add_scalar("train/images_per_s", ev.images_per_s, ev.step)
        elif isinstance(ev, EpochEnd):
            w.add_scalar("accuracy/train", ev.train_accuracy, ev.epoch)
            w.add_scalar("loss/train", ev.train_loss, ev.epoch)
            if ev.test_accuracy is not None:
                w.add_scalar("accuracy/test", ev.test_accuracy, ev.epoch)
                w.add_scalar("loss/test", ev.test_loss, ev.epoch)
        elif isinstance(ev, End):
            metrics = {} if ev.test_accuracy is None else {"hparam/test_accuracy": ev.test_accuracy}
            w.add_hparams(hparams(ev.metadata), metrics, run_name=".")  # '.': beside the scalars
            w.flush()

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception as exc:
                self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        self._warn(
            f"cannot write TensorBoard logs to {self.logdir} ({type(exc).__name__}: {exc}); "
            f"training goes on without them."
        )
        writer, self.writer = self.writer, None
        if writer is not None:
            try:
                writer.close()
            except Exception:
                pass


def hparams(metadata: dict) -> dict:
    """The recipe (and data set, seed, status) as TensorBoard hparams: numbers, booleans and strings."""
    out = {}
    for k, v in {
        **(metadata.get("recipe") or {}),
        "dataset": metadata.get("dataset"),
        "seed": metadata.get("seed"),
        "status": metadata.get("status"),
    }.items():
        if isinstance(v, bool) or (isinstance(v, (int, float)) and math.isfinite(v)):
            out[k] = v
        elif k not in ("reported", "notes"):
            out[k] = v if isinstance(v, str) else json.dumps(v)
    return out


class RunRecorder:
    """What a run keeps: its log (always) and TensorBoard scalars (given a folder). open(), write()
    each event, then close(checkpoint) (or fail(message) when the run ends in an error)."""

    def __init__(self, log: RunLog, tensorboard: TensorBoardLog | None):
        self.log, self.tensorboard = log, tensorboard

    @classmethod
    def open(
        cls,
        checkpoint: str | os.PathLike,
        header: dict | None = None,
        tensorboard: str | os.PathLike | None = None,
        warn: Warn = print_warning,
    ) -> RunRecorder:
        """The log beside checkpoint; TensorBoard under tensorboard/<checkpoint stem> when asked."""
        log = RunLog.open(log_path(checkpoint), header, warn)
        tb = TensorBoardLog(Path(tensorboard) / Path(checkpoint).stem, warn) if tensorboard else None
        return cls(log, tb)

    def write(self, ev) -> None:
        self.log.write(ev)
        if self.tensorboard is not None:
            self.tensorboard.write(ev)

    def fail(self, message: str) -> None:
        self.log.fail(message)
        self.close()

    def close(self, checkpoint: str | os.PathLike | None = None) -> Path:
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None
        return self.log.close(checkpoint)
