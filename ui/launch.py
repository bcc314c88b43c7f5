"""The command line: python app.py [flags], or the cnn-playground console script.

cnn-playground [--host 127.0.0.1] [--port 7860] [--data-dir D] [--share] [--allow-any-path] [--max-runs N]
               [--queue-size N] [--max-image-megapixels MP]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from cnn import limits
from cnn.memory import limit_malloc_arenas
from cnn.owners import USERS_FOLDER
from cnn.runs import LocalExecutor, RunManager
from cnn.runs.ray_executor import RayExecutor, RayUnavailable  # imports Ray itself only when one is made
from cnn.runs.scheduler import MAX_WAITING

from . import class_flags
from .app import CSS, HEAD, build_app
from .common import ROOT
from .gradio_internals import ScriptFirst, skip_missing_matplotlib
from .identity import IdentityMiddleware
from .logins import LoginError, logins_from_env
from .train_tab import UNWATCHED_S

MAX_UPLOAD = "20mb"
# Training runs at once by default. On a CPU one run already uses every core, so a second only
# shares them. Small nets leave most of a GPU idle, so several share one well: 3 is a first choice,
# not yet measured (bench/train_api_load.py --device cuda --max-runs 1,2,3,4 measures the total time of 8 runs per
# value on a GPU; docs/deploying.md). $CNN_MAX_RUNS or --max-runs overrides it.
CPU_MAX_RUNS = 1
GPU_MAX_RUNS = 3
# Gradio's queue re-summarises its last GRADIO_ANALYTICS_MAX_EVENTS (10,000) events in a pandas
# DataFrame after every event, every GRADIO_ANALYTICS_CACHE_FREQUENCY (1) events, for its monitoring
# page, which this app does not turn on. Under 16 clients that took about a fifth of a core, and the
# cost grows with the events kept (tests/test_load.py; docs/performance-load.md).
log = logging.getLogger("cnn-playground")
GRADIO_SLOTS = 40  # Gradio's default max_threads: the events at once, beside the /train jobs (event_slots)
QUEUE_SUMMARY = {"GRADIO_ANALYTICS_CACHE_FREQUENCY": "1000", "GRADIO_ANALYTICS_MAX_EVENTS": "2000"}
# Events waiting in Gradio's queue, for everyone together; one more is refused ("the queue is full")
# instead of growing the server's memory. A class of 30 with a few events each waiting (a drawing's
# prediction, a tick, a click) fits.
QUEUE_SIZE = 100


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="CNN Playground in the browser.")
    p.add_argument(
        "--host",
        default=os.environ.get("CNN_HOST", "127.0.0.1"),
        help="address to bind (default 127.0.0.1: this computer only)",
    )
    p.add_argument("--port", type=int, default=int(os.environ.get("CNN_PORT", 7860)))
    p.add_argument("--data-dir", default=None, help="data directory (default: $CNN_DATA_DIR, else ./data)")
    p.add_argument("--share", action="store_true", help="make a public Gradio share link (with a warning)")
    p.add_argument(
        "--allow-any-path", action="store_true", help="let the Train tab read image folders outside the data directory"
    )
    p.add_argument(
        "--mnist-checkpoint",
        default=os.environ.get("CNN_MNIST_CHECKPOINT", str(ROOT / "checkpoints" / "mnist.safetensors")),
    )
    p.add_argument(
        "--cifar-checkpoint",
        default=os.environ.get("CNN_CIFAR10_CHECKPOINT", str(ROOT / "checkpoints" / "cifar10.safetensors")),
    )
    p.add_argument(
        "--runs-dir",
        default=os.environ.get("CNN_RUNS_DIR", str(ROOT / "checkpoints" / "runs")),
        help="where training runs are saved (default checkpoints/runs)",
    )
    p.add_argument("--device", default=None, help="training device: cuda, mps or cpu (default: the best)")
    p.add_argument(
        "--max-runs",
        type=int,
        default=int(os.environ["CNN_MAX_RUNS"]) if os.environ.get("CNN_MAX_RUNS") else None,
        metavar="N",
        help=f"training runs at once, for everyone (the others wait in a queue, one per person); default "
        f"{CPU_MAX_RUNS} on a CPU, {GPU_MAX_RUNS} on a GPU",
    )
    p.add_argument(
        "--upload-ttl",
        type=int,
        default=120,
        metavar="SECONDS",
        help="delete uploaded files this long after they arrive (default 120)",
    )
    p.add_argument(
        "--ray",
        default=os.environ.get("CNN_RAY_ADDRESS") or None,
        metavar="ADDRESS",
        help="train runs on a Ray cluster: its address, 'auto' (the cluster this machine is in) or "
        "'local' (a local Ray, to try it); needs pip install '.[ray]' (default: $CNN_RAY_ADDRESS)",
    )
    p.add_argument("--ray-cpus", type=int, default=None, help="with --ray local: the CPUs it may use (default 2)")
    input_flags(p)
    class_flags.limits_flags(p)
    class_flags.people_flags(p)
    return p.parse_args(argv)


def input_flags(p: argparse.ArgumentParser) -> None:
    """What the server accepts at its door: queued events, image sizes (cnn.limits)."""
    p.add_argument(
        "--queue-size",
        type=int,
        default=int(os.environ.get("CNN_QUEUE_SIZE") or QUEUE_SIZE),
        metavar="N",
        help=f"events that may wait in the queue, for everyone together; more are refused (default {QUEUE_SIZE}, "
        f"$CNN_QUEUE_SIZE)",
    )
    p.add_argument(
        "--max-image-megapixels",
        type=float,
        default=limits.MAX_IMAGE_PIXELS / 1e6,
        metavar="MP",
        help=f"larger images are refused from their header, before they are decoded (default "
        f"{limits.DEFAULT_IMAGE_MEGAPIXELS}, $CNN_MAX_IMAGE_MEGAPIXELS)",
    )


def auth_from_env() -> list[tuple[str, str]] | None:
    """The logins of CNN_AUTH / CNN_AUTH_FILE (ui.logins), or None; a bad entry ends the program
    with a message that names it (and never its password)."""
    try:
        return logins_from_env()
    except LoginError as exc:
        sys.exit(f"error: {exc}")


def exposure_warnings(host: str, share: bool, has_auth: bool) -> list[str]:
    """What to tell the person who makes the app reachable from other computers."""
    login = "" if has_auth else " Set CNN_AUTH=user:password (or several, comma-separated) to require a login."
    out = []
    if host not in ("127.0.0.1", "localhost", "::1"):
        out.append(
            f"binding {host} makes the app reachable from other computers on the network; anyone "
            f"who can reach it can use it and start training runs.{login}"
        )
    if share:
        out.append(
            f"--share publishes the app on the internet through a Gradio share link; anyone with "
            f"the link can use it and start training runs.{login}"
        )
    return out


def loose_runs(runs_dir: Path) -> int:
    """How many checkpoints lie directly in the runs folder (made without logins)."""
    return sum(1 for p in runs_dir.glob("*.safetensors") if not p.name.startswith(".")) if runs_dir.is_dir() else 0


def max_runs(args: argparse.Namespace, device_type: str) -> int:
    """--max-runs, else the default for the training device (CPU_MAX_RUNS, GPU_MAX_RUNS)."""
    if args.max_runs is not None:
        if args.max_runs < 1:
            sys.exit("error: --max-runs must be at least 1")
        return args.max_runs
    return CPU_MAX_RUNS if device_type == "cpu" else GPU_MAX_RUNS


def executor(args: argparse.Namespace):
    """What trains each run: this machine (cnn.runs.LocalExecutor), or with --ray a Ray cluster."""
    where = (args.data_dir, args.allow_any_path, args.device, (args.mnist_checkpoint, args.cifar_checkpoint))
    if not args.ray:
        return LocalExecutor(*where)
    try:
        limits = class_flags.run_limits(args)  # each worker checks them again (cnn.runs.access.admit)
        return RayExecutor(args.ray, *where, ray_cpus=args.ray_cpus, limits=limits, runs_dir=args.runs_dir)
    except RayUnavailable as exc:
        sys.exit(f"error: {exc}")


def run_manager(args: argparse.Namespace) -> RunManager:
    """The scheduler of the app's runs, every setting from the flags: max_runs' default follows the
    executor's device (with --ray, the cluster's GPUs, not this machine's)."""
    ex = executor(args)
    return RunManager(
        args.runs_dir,
        args.data_dir,
        args.allow_any_path,
        args.device,
        stop_unwatched_after=UNWATCHED_S,  # the app's pages ask about their run every TICK_S s
        max_runs=max_runs(args, ex.device_type()),
        executor=ex,
        limits=class_flags.run_limits(args),
    )


def event_slots(runs: RunManager) -> int:
    """Gradio's queue handles at most max_threads events at once, threads or not. Each /train job
    holds one for as long as its run waits and trains (on the event loop: no thread), so the app
    gives them a slot each beyond Gradio's usual 40: 45 waiting jobs must not hold up a prediction.
    Every other event has its own concurrency limit (default_concurrency_limit), so the threads
    they use stay as few as before."""
    return GRADIO_SLOTS + MAX_WAITING + runs.max_runs


def serve(args: argparse.Namespace, *, block: bool = True) -> gr.Blocks:
    """Build and launch the app; with block=False return at once (for tests)."""
    auth = auth_from_env()
    if args.queue_size < 1 or args.max_image_megapixels <= 0:
        sys.exit("error: --queue-size must be at least 1 and --max-image-megapixels above 0")
    limits.set_max_image_pixels(int(args.max_image_megapixels * 1_000_000))
    limit_malloc_arenas()  # a server's threads would otherwise each keep a heap (cnn.memory)
    for warning in exposure_warnings(args.host, args.share, auth is not None):
        print(f"warning: {warning}", file=sys.stderr)
    for path in (args.mnist_checkpoint, args.cifar_checkpoint):
        if not Path(path).is_file():
            print(
                f"warning: no checkpoint at {path}; its tab will say so until you train and load one.", file=sys.stderr
            )
    runs = run_manager(args)
    runs.warm_up_in_background()
    if auth:
        log.info("logins on for %d user(s): each user's runs are under %s", len(auth), runs.runs_dir / USERS_FOLDER)
        unowned = loose_runs(runs.runs_dir)
        if unowned:
            log.info(
                "%d run(s) directly in %s belong to no login and nobody sees them now; move a run's "
                ".safetensors and .jsonl into users/<name>/ to give it to that user",
                unowned,
                runs.runs_dir,
            )
    people = class_flags.identity(args, auth is not None)
    demo = build_app(
        args.mnist_checkpoint,
        args.cifar_checkpoint,
        runs,
        args.upload_ttl,
        logins=auth is not None,
        identity=people,
        admins=class_flags.admins(args, auth),
    )
    for name, value in QUEUE_SUMMARY.items():  # read when the queue is made
        os.environ.setdefault(name, value)
    skip_missing_matplotlib()
    demo.queue(default_concurrency_limit=4, max_size=args.queue_size)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        auth=auth,
        max_file_size=MAX_UPLOAD,
        css=CSS,
        head=HEAD,
        footer_links=["api"],
        run_history=False,
        max_threads=event_slots(runs),
        app_kwargs={"middleware": page_middleware(people)},
        show_error=False,
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return demo


# Run before Gradio's own scripts (ui/static/frames.js says why).
FRAMES_JS = (Path(__file__).parent / "static" / "frames.js").read_text()


def page_middleware(people) -> list[Middleware]:
    """The frames script first in the page's head; with per-browser identities, their cookie."""
    first = [Middleware(ScriptFirst, script=FRAMES_JS)]
    return [*first, Middleware(IdentityMiddleware, identity=people)] if people else first


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    serve(parse_args(argv))
