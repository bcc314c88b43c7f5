"""Runs on a Ray cluster: with `--ray ADDRESS` each run's `_execute` happens in a Ray actor on some
node of the cluster, asking for its share of a GPU (or its CPUs), while the app's scheduler (queue,
places, one run per person, stop) stays the same.

The worker's side (`RemoteRun`) is a RunManager of its own over a scratch folder that trains the run
with the very `_execute` the app uses without Ray. The app's side (`RayRunManager._execute`) asks
it, every POLL_S seconds, for what changed (`RemoteRun.take`: new steps and epochs, the live
panel, the status, the new bytes of its log) and puts that into the app's Run, so pages show the
run live; Stop reaches the worker as a call that sets the run's stop flag. The log is appended to
the runs folder as it grows; the checkpoint comes back as bytes at the end and is written there
atomically. A worker that dies (its process killed, its node gone) makes the next call fail: the
run ends FAILED with a message and its log says so, so no page waits for it forever.

Named data sets, image folders and Teach projects are read on the worker, at the same path as on
the app's machine (a shared or copied data directory); a checkpoint a run starts from is sent.
Ray is imported only here, and only when a RayRunManager is made (`pip install .[ray]`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import torch

from ..atomic import atomic_path
from ..cpu_share import run_threads
from ..data import Dataset
from ..errors import CnnError, DataError
from ..training import RunStatus
from .manager import RunManager
from .run import Run

log = logging.getLogger(__name__)

POLL_S = 0.25  # how often the app asks a worker what changed (a Step comes every few ms: batched)
LOCAL_CPUS = 2  # `--ray local`: the CPUs the local Ray instance may use (override with ray_cpus)
INSTALL = "Ray is not installed: pip install '.[ray]' (or pip install 'ray>=2.50'), or start without --ray."


class RayUnavailable(CnnError):
    """Ray is not installed, or its cluster cannot be reached."""


def _ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable(INSTALL) from None
    return ray


def connect(address: str, cpus: int | None = None):
    """Join the Ray cluster at address ('auto': the one this machine is part of), or start a local
    one ('local': `cpus` CPUs, no dashboard) for trying it and for tests. Returns the ray module."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    try:
        if address == "local":
            here = str(Path(__file__).resolve().parents[2])  # the folder that holds cnn/
            path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
            ray.init(
                num_cpus=cpus or LOCAL_CPUS,
                include_dashboard=False,
                runtime_env={"env_vars": {"PYTHONPATH": path}},  # its workers import this copy of cnn
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        else:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(
            f"Could not join the Ray cluster at {address!r} ({str(exc)[:200]}). Start it first "
            f"(ray start --head on the head node), or use --ray local."
        ) from None
    return ray


# ---------------------------------------------------------------- the worker's side


class RemoteRun:
    """A Ray worker that trains the app's runs, one at a time (a Ray actor, made by RayRunManager
    and kept for the next run: its process has imported torch and set up its device once). Each run
    is trained by a RunManager of its own over a scratch folder, with the app's `_execute`; `take`
    and `stop` are called meanwhile (the actor serves several calls at once)."""

    def __init__(self, data_dir, allow_any_path: bool, device: str | None, threads: int):
        self.root = Path(tempfile.mkdtemp(prefix="cnn-ray-runs-"))
        self.data_dir, self.allow_any_path, self.device, self.threads = data_dir, allow_any_path, device, threads
        self.manager: RunManager | None = None
        self.run: Run | None = None

    def pid(self) -> int:
        return os.getpid()

    def execute(self, run_id: str, config, recipe, init: bytes | None) -> bytes | None:
        """Train the run; the checkpoint's bytes (None when it has none: it failed)."""
        scratch = self.root / run_id
        self.manager = RunManager(scratch, self.data_dir, self.allow_any_path, self.device)
        if init is not None:  # the checkpoint it starts from, sent from the app's machine
            start = scratch / "init" / "start.safetensors"
            start.parent.mkdir(parents=True)
            start.write_bytes(init)
            config = dataclasses.replace(config, init_from=str(start))
        self.run = run = Run(run_id, config, None, self.manager.device_name(), recipe=recipe)
        cpu = self.manager.device_type() == "cpu"
        with run_threads(self.threads) if cpu else contextlib.nullcontext():
            self.manager._execute(run, recipe)
        return run.checkpoint.read_bytes() if run.checkpoint is not None else None

    def take(self, seen: dict) -> dict:
        """What changed since `seen` (counts of what the app has): a dict `_apply` reads."""
        run = self.run
        if run is None:
            return {"started": False}
        done = run.done  # read first: what follows is then at least as new
        out = {
            "started": True,
            "status": run.status,
            "note": run.note,
            "recipe": run.recipe,
            "start": run.start if not seen["start"] else None,
            "steps": run.steps[seen["steps"] :],
            "epochs": run.epochs[seen["epochs"] :],
            "warnings": run.warnings[seen["warnings"] :],
            "log": self._log_bytes(seen["log"]),
        }
        if run.data is not None and not seen["data"]:  # the test split and classes; not the training images
            out["data"] = Dataset(run.data.name, run.data.classes, None, _on_cpu(run.data.test), run.data.skipped)
        if run.panel_images is not None and not seen["panel"]:
            out["panel"] = (run.panel_images.cpu(), run.panel_labels)
        if run.snapshots != seen["snapshots"]:
            out["snapshot"], out["snapshots"] = _on_cpu(run.snapshot), run.snapshots
        if done:
            end = (
                _on_cpu(dataclasses.replace(run.end, model=None)) if run.end is not None else None
            )  # weights: execute's
            out.update(
                done=True,
                end=end,
                final_step=run.final_step,
                message=run.message,
                checkpoint=str(run.checkpoint) if run.checkpoint else None,
            )
        return out

    def _log_bytes(self, offset: int) -> tuple[str, bytes] | None:
        """(the log's name, its bytes from offset), once the run has one."""
        logs = sorted(self.manager.runs_dir.glob("*.jsonl"))
        if not logs:
            return None
        with open(logs[0], "rb") as f:
            f.seek(offset)
            return logs[0].name, f.read()

    def stop(self, note: str = "") -> None:
        if self.run is not None:
            self.run.note = note or self.run.note
            self.run.stop()

    def finish(self) -> None:
        """The app has the run's checkpoint and log: remove its scratch folder, ready for the next."""
        if self.manager is not None:
            shutil.rmtree(self.manager.runs_dir, ignore_errors=True)
        self.manager, self.run = None, None


# ---------------------------------------------------------------- the app's side


class RayRunManager(RunManager):
    """The app's scheduler, each run executed on a Ray cluster (see the module docstring).
    address: a Ray address, 'auto', or 'local' (a local Ray of `ray_cpus` CPUs)."""

    def __init__(self, address: str, *args, ray_cpus: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.address = address
        self.ray = connect(address, ray_cpus)
        self.actors: dict[str, object] = {}  # run id -> the RemoteRun actor training it
        self._idle: list = []  # workers between runs, kept for the next (up to max_runs of them)
        self._pool = threading.Lock()
        resources = self.ray.cluster_resources()
        self.cluster_gpus, self.cluster_cpus = float(resources.get("GPU", 0)), float(resources.get("CPU", 1))
        self._remote = self.ray.remote(max_concurrency=4)(RemoteRun)

    def warm_up_in_background(self, *args, **kwargs) -> None:
        """Start max_runs workers now, while nobody waits: a worker's start (a Python process that
        imports torch, on a GPU its CUDA set-up) is then paid before the first runs, not by them."""
        with self._pool:
            while len(self._idle) < self.max_runs:
                self._idle.append(self._new_worker())

    def _new_worker(self):
        opts = self.resources()
        return self._remote.options(**opts).remote(self.data_dir, self.allow_any_path, self.device, opts["num_cpus"])

    def _worker(self):
        """An idle worker, or a new one (Ray places it where the cluster has its share free)."""
        with self._pool:
            return self._idle.pop() if self._idle else self._new_worker()

    def _release(self, actor) -> None:
        """A run ended: its worker, if alive, cleans up and waits for the next run; else it goes."""
        try:
            self.ray.get(actor.finish.remote(), timeout=30)
        except Exception:  # dead, or stuck: let Ray end it
            with contextlib.suppress(Exception):
                self.ray.kill(actor, no_restart=True)
            return
        with self._pool:
            if len(self._idle) < self.max_runs:
                self._idle.append(actor)
                return
        self.ray.kill(actor, no_restart=True)

    def shutdown(self) -> None:
        """End the idle workers (runs still training end with their workers when they stop)."""
        with self._pool:
            idle, self._idle = self._idle, []
        for actor in idle:
            with contextlib.suppress(Exception):
                self.ray.kill(actor, no_restart=True)

    def device_type(self) -> str:
        return "cpu" if self.device == "cpu" or not self.cluster_gpus else "cuda"

    def device_name(self) -> str:
        gpus = f"{self.cluster_gpus:g} GPU(s), " if self.cluster_gpus and self.device != "cpu" else ""
        return f"Ray cluster ({gpus}{self.cluster_cpus:g} CPUs) at {self.address}"

    def resources(self) -> dict:
        """What one run asks the cluster for: an equal share of its GPUs among max_runs runs (at
        most one whole GPU) and one CPU, or, without GPUs, an equal share of its CPUs."""
        if self.device_type() == "cuda":
            return {"num_gpus": min(1.0, self.cluster_gpus / self.max_runs), "num_cpus": 1}
        return {"num_gpus": 0, "num_cpus": max(1, int(self.cluster_cpus // self.max_runs))}

    def _execute(self, run: Run, recipe) -> None:
        """Execute the run on a Ray worker, mirrored into `run` live; its log and checkpoint land in
        the owner's runs folder. Any failure, a dead worker included, ends it FAILED with a message."""
        folder = self.runs_dir_for(run.owner)
        record = _LocalLog(folder)
        actor = None
        try:
            init = Path(run.config.init_from).read_bytes() if run.config.init_from else None
            actor = self._worker()
            self.actors[run.id] = actor
            result = actor.execute.remote(run.id, run.config, recipe, init)
            run.note = "Waiting for a Ray worker with a free share of the cluster ..."
            run._touch()
            final, seen = self._follow(run, actor, record)
            data = self.ray.get(result)
            tail = self.ray.get(actor.take.remote(seen))  # the log's last line, written after `done`
            if tail.get("log"):
                record.append(*tail["log"])
            self._land(run, final, data, folder, record)
        except Exception as exc:
            self._fail(run, _ray_failure(self.ray, exc))
            record.fail(run.message)
        finally:
            self.actors.pop(run.id, None)
            if actor is not None:
                self._release(actor)
            record.close()
            if not run.done:
                run.status = RunStatus.FAILED
            run._touch()

    def _follow(self, run: Run, actor, record: _LocalLog) -> tuple[dict, dict]:
        """Mirror the worker's run into `run` until it is done: (its last `take` answer, what the app
        has of it)."""
        seen = dict(start=False, steps=0, epochs=0, warnings=0, log=0, data=False, panel=False, snapshots=0)
        stopped = False
        while True:
            if run.stop_event.is_set() and not stopped:
                actor.stop.remote(run.note)
                stopped = True
            ref = actor.take.remote(seen)
            while not self.ray.wait([ref], timeout=POLL_S)[0]:  # a worker still being found or started
                if run.stop_event.is_set() and not stopped:
                    actor.stop.remote(run.note)
                    stopped = True
            delta = self.ray.get(ref)  # raises when the worker died
            _apply(run, delta, seen, record)
            if delta.get("done"):
                return delta, seen
            time.sleep(POLL_S)

    def _land(self, run: Run, final: dict, data: bytes | None, folder: Path, record: _LocalLog) -> None:
        """The worker's result in the app: its checkpoint written atomically beside its log."""
        run.end, run.final_step = final["end"], final["final_step"]
        message = final["message"]
        if data is not None and final["checkpoint"]:
            path = folder / Path(final["checkpoint"]).name
            if path.resolve() in self.protected:  # cannot happen with these names; belt and braces
                raise DataError(f"Refusing to overwrite the shipped checkpoint {path}.")
            with atomic_path(path) as tmp:
                Path(tmp).write_bytes(data)
            run.checkpoint = path
            message = message.replace(final["checkpoint"], str(path))
        run.message, run.status = message, final["status"]


def _apply(run: Run, d: dict, seen: dict, record: _LocalLog) -> None:
    """One `take` answer into the app's Run (and its log's new bytes into the runs folder)."""
    if not d.get("started"):
        return
    if d["log"] is not None:
        name, chunk = d["log"]
        record.append(name, chunk)
        seen["log"] += len(chunk)
    if d["start"] is not None:
        run.start, seen["start"] = d["start"], True
    run.steps.extend(d["steps"])
    run.epochs.extend(d["epochs"])
    run.warnings.extend(d["warnings"])
    seen["steps"] += len(d["steps"])
    seen["epochs"] += len(d["epochs"])
    seen["warnings"] += len(d["warnings"])
    if "data" in d:
        run.data, seen["data"] = d["data"], True
    if "panel" in d:
        (run.panel_images, run.panel_labels), seen["panel"] = d["panel"], True
    if "snapshot" in d:
        run.snapshot, run.snapshots = d["snapshot"], d["snapshots"]
        seen["snapshots"] = d["snapshots"]
    run.recipe = d["recipe"] or run.recipe
    if not d.get("done"):  # the final status only once the checkpoint is here (`_land`)
        run.status = d["status"]
    if d.get("done") or not run.stop_event.is_set():  # a stop's note (why it stopped) goes to the worker first
        run.note = d["note"]
    run._touch()


def _on_cpu(obj):
    """An event, result or split with its tensors (and its dataclass fields' tensors) on the CPU: the
    app's machine may have no GPU."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        moved = {
            f.name: _on_cpu(v)
            for f in dataclasses.fields(obj)
            if isinstance(v := getattr(obj, f.name), torch.Tensor) or dataclasses.is_dataclass(v)
        }
        return dataclasses.replace(obj, **moved) if moved else obj
    return obj


class _LocalLog:
    """The run's log in the app's runs folder, appended with the worker's bytes as they come."""

    def __init__(self, folder: Path):
        self.folder, self.path, self._file = folder, None, None

    def append(self, name: str, chunk: bytes) -> None:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.path = self.folder / Path(name).name
            self._file = open(self.path, "ab")
        if chunk:
            self._file.write(chunk)
            self._file.flush()

    def fail(self, message: str) -> None:
        """The run failed on the app's side (a dead worker): the log's last line says so."""
        if self._file is not None:
            self._file.write((json.dumps({"kind": "failed", "message": message}) + "\n").encode())
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _ray_failure(ray, exc: Exception) -> str:
    """What a run whose execution on Ray failed says."""
    if isinstance(exc, CnnError):
        return str(exc)
    if isinstance(exc, ray.exceptions.RayActorError):
        return (
            "The Ray worker training this run died (its process ended, or its node left the cluster), "
            "so the run failed; what it logged so far is kept. Start it again to train it on another worker."
        )
    if isinstance(exc, ray.exceptions.RayError):
        return f"The run failed on Ray: {type(exc).__name__}: {str(exc)[:300]}"
    log.exception("run on Ray failed")
    return f"Training on Ray failed: {type(exc).__name__}: {str(exc)[:300]}"
