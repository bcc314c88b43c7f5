"""Runs on a Ray cluster: with `--ray ADDRESS` the scheduler (cnn.runs.scheduler) hands each run to
`RayExecutor`, which trains it in a Ray actor on some node of the cluster, asking for its share of a
GPU (or its CPUs). The queue, places, one run per person and Stop stay the scheduler's.

The worker's side (`RemoteRun`) trains the run with the app's own executor (cnn.runs.executor
LocalExecutor) over a scratch folder, with the thread count and priority the scheduler chose. The
app's side asks it, every POLL_S seconds, for what changed (`RemoteRun.take`: new steps and epochs,
the live panel, the status, the new bytes of its log) and puts that into the app's Run, so pages show
the run live; Stop reaches the worker as a call that sets the run's stop flag. The checkpoint and
the TensorBoard files come back as bytes at the end and are written atomically beside the log.

A run never hangs: a worker that cannot be placed within `place_timeout` seconds, or that stops
answering for `answer_timeout`, ends the run FAILED with a message (and a dead worker at once); Stop
ends a run still waiting for its worker. A worker applies the app's limits and owner checks itself
(cnn.runs.access.admit) before it trains: one asked directly refuses what the app would. Named data
sets, image folders and Teach projects are read on the worker, at the same path as on the app's
machine; a checkpoint a run starts from is sent. Ray is imported only here, and only when a
RayExecutor is made (`pip install .[ray]`)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ..atomic import atomic_path
from ..cpu_share import PROCESS_THREADS
from ..errors import CnnError
from ..training import RunStatus
from .access import admit
from .executor import LocalExecutor, end_failed, refuse_protected
from .limits import NO_LIMITS
from .ray_mirror import LocalLog, apply_delta, delta_of, land_files
from .run import Run

log = logging.getLogger(__name__)

POLL_S = 0.25  # how often the app asks a worker what changed (a Step comes every few ms: batched)
LOCAL_CPUS = 2  # `--ray local`: the CPUs the local Ray instance may use (override with ray_cpus)
PLACE_TIMEOUT_S = 120.0  # a run whose worker is not placed and started by then fails, saying why
ANSWER_TIMEOUT_S = 60.0  # a started worker that does not answer for this long is taken for dead
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
            env = {"env_vars": {"PYTHONPATH": path}}  # its workers import this copy of cnn
            ray.init(
                num_cpus=cpus or LOCAL_CPUS,
                include_dashboard=False,
                runtime_env=env,
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


class RemoteRun:
    """A Ray worker that trains the app's runs, one at a time, with the app's executor (a Ray actor
    kept for the next run: its process has imported torch and set up its device once). `take` and
    `stop` are called while it trains (the actor serves several calls at once)."""

    def __init__(self, data_dir, allow_any_path: bool, device: str | None, limits=NO_LIMITS, runs_dir=None):
        self.root = Path(tempfile.mkdtemp(prefix="cnn-ray-runs-"))
        self.executor = LocalExecutor(data_dir, allow_any_path, device)
        self.limits, self.runs_dir = limits, Path(runs_dir) if runs_dir is not None else self.root
        self.folder: Path | None = None
        self.run: Run | None = None

    def pid(self) -> int:
        return os.getpid()

    def execute(self, run_id: str, config, recipe, init: bytes | None, threads: int, owner=None) -> bytes | None:
        """Train owner's run; the checkpoint's bytes (None when it has none: it failed, or was refused)."""
        import dataclasses

        self.folder = scratch = self.root / run_id
        self.run = run = Run(run_id, config, None, self.executor.device_name(threads), recipe=recipe, owner=owner)
        try:
            admit(config, owner, self.limits, self.executor.data_dir, self.executor.allow_any_path, self.runs_dir)
        except CnnError as exc:
            end_failed(run, exc)
            return None
        if init is not None:  # the checkpoint it starts from, sent from the app's machine
            start = scratch / "init" / "start.safetensors"
            start.parent.mkdir(parents=True)
            start.write_bytes(init)
            run.config = dataclasses.replace(config, init_from=str(start))
        self.executor.execute(run, recipe, scratch, threads)
        return run.checkpoint.read_bytes() if run.checkpoint is not None else None

    def take(self, seen: dict) -> dict:
        """What changed since `seen` (counts of what the app has): cnn.runs.ray_mirror reads it."""
        return delta_of(self.run, seen, self.folder)

    def stop(self, note: str = "") -> None:
        if self.run is not None:
            self.run.note = note or self.run.note
            self.run.stop()

    def finish(self) -> None:
        """The app has the run's checkpoint and log: remove its scratch folder, ready for the next."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder, self.run = None, None


class RayExecutor:
    """Executes each run on a Ray worker, mirrored into the app's Run live (see the module docstring).
    address: a Ray address, 'auto', or 'local' (a local Ray of `ray_cpus` CPUs)."""

    def __init__(
        self,
        address: str,
        data_dir=None,
        allow_any_path=False,
        device=None,
        protected=(),
        ray_cpus=None,
        limits=NO_LIMITS,
        runs_dir=None,
    ):
        """limits and runs_dir: the app's (cnn.runs.limits, its runs folder), which each worker
        checks a run against again before it trains."""
        self.address, self.data_dir, self.allow_any_path, self.device = address, data_dir, allow_any_path, device
        self.limits, self.runs_dir = limits, runs_dir
        self.protected = tuple(Path(p).resolve() for p in protected)
        self.ray = connect(address, ray_cpus)
        self.place_timeout, self.answer_timeout = PLACE_TIMEOUT_S, ANSWER_TIMEOUT_S
        self.actors: dict[str, object] = {}  # run id -> the RemoteRun actor training it
        self._idle: list = []  # workers between runs, kept for the next (up to max_runs of them)
        self._pool = threading.Lock()
        self.max_runs = 1
        resources = self.ray.cluster_resources()
        self.cluster_gpus, self.cluster_cpus = float(resources.get("GPU", 0)), float(resources.get("CPU", 1))
        self._remote = self.ray.remote(max_concurrency=4)(RemoteRun)

    def warm_up_in_background(self, max_runs: int = 1) -> None:
        """Start max_runs workers now, while nobody waits: a worker's start (a Python process that
        imports torch, on a GPU its CUDA set-up) is then paid before the first runs, not by them."""
        self.max_runs = max_runs
        with self._pool:
            while len(self._idle) < max_runs:
                self._idle.append(self._new_worker())

    def _new_worker(self):
        options = self._remote.options(**self.resources())
        return options.remote(self.data_dir, self.allow_any_path, self.device, self.limits, self.runs_dir)

    def _worker(self):
        """An idle worker, or a new one (Ray places it where the cluster has its share free)."""
        with self._pool:
            return self._idle.pop() if self._idle else self._new_worker()

    def _release(self, actor, alive: bool) -> None:
        """A run ended: its worker, if alive, cleans up and waits for the next run; else it goes."""
        if alive:
            try:
                self.ray.get(actor.finish.remote(), timeout=30)
                with self._pool:
                    if len(self._idle) < self.max_runs:
                        self._idle.append(actor)
                        return
            except Exception:  # dead, or stuck: let Ray end it
                pass
        with contextlib.suppress(Exception):
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

    def device_name(self, threads: int = PROCESS_THREADS) -> str:
        gpus = f"{self.cluster_gpus:g} GPU(s), " if self.cluster_gpus and self.device != "cpu" else ""
        return f"Ray cluster ({gpus}{self.cluster_cpus:g} CPUs) at {self.address}"

    def resources(self) -> dict:
        """What one run asks the cluster for: an equal share of its GPUs among max_runs runs (at
        most one whole GPU) and one CPU, or, without GPUs, an equal share of its CPUs."""
        if self.device_type() == "cuda":
            return {"num_gpus": min(1.0, self.cluster_gpus / self.max_runs), "num_cpus": 1}
        return {"num_gpus": 0, "num_cpus": max(1, int(self.cluster_cpus // self.max_runs))}

    def execute(self, run: Run, recipe, folder: Path, threads: int) -> None:
        """Execute the run on a Ray worker (on `threads` threads there, or its CPU share), mirrored
        into `run` live; its log, checkpoint and TensorBoard files land in `folder`."""
        record, actor, alive = LocalLog(folder), None, False
        try:
            init = Path(run.config.init_from).read_bytes() if run.config.init_from else None
            actor = self._worker()
            self.actors[run.id] = actor
            cpus = self.resources()["num_cpus"] if self.device_type() == "cpu" else threads
            result = actor.execute.remote(run.id, run.config, recipe, init, cpus, run.owner)
            run.note = "Waiting for a Ray worker with a free share of the cluster ..."
            run._touch()
            final, alive = self._follow(run, actor, record), True
            if final is None:  # stopped before a worker took it
                run.message, run.status, alive = (
                    "Cancelled: it was stopped before a Ray worker took it.",
                    RunStatus.CANCELLED,
                    False,
                )
                return
            data = self.ray.get(result, timeout=self.answer_timeout)
            self._land(run, final, data, folder)
        except Exception as exc:
            end_failed(run, exc, record, _ray_failure(self.ray, exc, self))
        finally:
            self.actors.pop(run.id, None)
            if actor is not None:
                self._release(actor, alive)
            record.close()
            if not run.done:
                run.status = RunStatus.FAILED
            run._touch()

    def _follow(self, run: Run, actor, record: LocalLog) -> dict | None:
        """Mirror the worker's run into `run` until it is done: its last `take` answer (None: stopped
        before the worker started it). Raises TimeoutError past the placement or answer timeout."""
        seen = dict(start=False, steps=0, epochs=0, warnings=0, log=0, data=False, panel=False, snapshots=0)
        stopped, asked, placed = False, time.monotonic(), False
        while True:
            ref = actor.take.remote(seen)
            while not self.ray.wait([ref], timeout=POLL_S)[0]:
                if run.stop_event.is_set() and not placed:
                    return None
                if run.stop_event.is_set() and not stopped:
                    actor.stop.remote(run.note)
                    stopped = True
                waited = time.monotonic() - asked
                if waited > (self.answer_timeout if placed else self.place_timeout):
                    raise TimeoutError("placed" if placed else "not placed")
            delta = self.ray.get(ref)  # raises when the worker died
            placed, asked = placed or delta.get("started", False), time.monotonic()
            if run.stop_event.is_set() and not stopped and placed:
                actor.stop.remote(run.note)
                stopped = True
            apply_delta(run, delta, seen, record)
            if delta.get("done"):
                return delta
            if not placed and time.monotonic() - run.started_at > self.place_timeout:
                raise TimeoutError("not placed")
            time.sleep(POLL_S)

    def _land(self, run: Run, final: dict, data: bytes | None, folder: Path) -> None:
        """The worker's result in the app: its checkpoint and TensorBoard files written atomically."""
        run.end, run.final_step = final["end"], final["final_step"]
        message = final["message"]
        if data is not None and final["checkpoint"]:
            path = folder / Path(final["checkpoint"]).name
            refuse_protected(path, self.protected)
            with atomic_path(path) as tmp:
                Path(tmp).write_bytes(data)
            run.checkpoint = path
            message = message.replace(final["checkpoint"], str(path))
        land_files(folder / "tensorboard", final.get("tensorboard") or {})
        run.message, run.status = message, final["status"]


def _ray_failure(ray, exc: Exception, executor: RayExecutor) -> str:
    """What a run whose execution on Ray failed says."""
    if isinstance(exc, CnnError):
        return str(exc)
    if isinstance(exc, TimeoutError) and str(exc) == "not placed":
        return (
            f"No Ray worker could start this run within {executor.place_timeout:g} s: the cluster has no "
            f"free share of {executor.resources()} for it. Start it again later, or ask for fewer runs at "
            f"once (--max-runs)."
        )
    if isinstance(exc, TimeoutError | getattr(ray.exceptions, "GetTimeoutError", TimeoutError)):
        return (
            f"The Ray worker training this run stopped answering for {executor.answer_timeout:g} s, so the run "
            f"failed; what it logged so far is kept. Start it again to train it on another worker."
        )
    if isinstance(exc, ray.exceptions.RayActorError):
        return (
            "The Ray worker training this run died (its process ended, or its node left the cluster), "
            "so the run failed; what it logged so far is kept. Start it again to train it on another worker."
        )
    if isinstance(exc, ray.exceptions.RayError):
        return f"The run failed on Ray: {type(exc).__name__}: {str(exc)[:300]}"
    log.exception("run on Ray failed")
    return f"Training on Ray failed: {type(exc).__name__}: {str(exc)[:300]}"
