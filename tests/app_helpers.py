"""Helpers for the app tests (test_app_api, test_browser, test_preprocess): the checkpoints to use,
and launching the app on a free loopback port in this process. Imported explicitly by those tests."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import zlib
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What tests make for a person to look at (screenshots, the load test's figures) goes here, git-ignored:
# running the suite changes no tracked file (.ci/run checks `git status`).
SCRATCH = ROOT / ".scratch"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def missing(reason: str):
    """Skip locally, fail in CI (env CI set): a test must not pass by skipping there."""
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


def checkpoint(kind: str) -> Path:
    """The shipped checkpoint (checkpoints/mnist.safetensors or checkpoints/cifar10.safetensors), or the
    one named by $CNN_MNIST_CHECKPOINT / $CNN_CIFAR10_CHECKPOINT."""
    env = {"mnist": "CNN_MNIST_CHECKPOINT", "cifar10": "CNN_CIFAR10_CHECKPOINT"}[kind]
    path = Path(os.environ.get(env) or ROOT / "checkpoints" / f"{kind}.safetensors")
    if not path.is_file():
        missing(f"no {kind} checkpoint at {path} (set ${env} or train the shipped one)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(runs_dir: Path, *extra: str):
    """Start the app in this process on a free loopback port: returns (demo, url).
    demo.runs is its RunManager; call demo.close() when done."""
    from ui.launch import parse_args, serve

    port = free_port()
    args = parse_args(
        [
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--mnist-checkpoint",
            str(checkpoint("mnist")),
            "--cifar-checkpoint",
            str(checkpoint("cifar10")),
            "--runs-dir",
            str(runs_dir),
            "--device",
            "cpu",
            *extra,
        ]
    )
    demo = serve(args, block=False)
    return demo, f"http://127.0.0.1:{port}/"


@contextmanager
def served_to(runs_dir: Path, *flags: str, logins: str | None = None, people: dict | None = None):
    """The app launched with these flags (and these logins: $CNN_AUTH's value, set for the launch
    only) and a page-without-browser (tests/page_client.py) for each person: {name: (user, password),
    or None without logins}. Yields SimpleNamespace(demo, url, runs, one attribute per person, and
    ev(module, name): the fn_index of ui.module.name); stops every run and closes all afterwards."""
    from page_client import Page, fn_index

    mp = pytest.MonkeyPatch()
    if logins is not None:
        mp.setenv("CNN_AUTH", logins)
    try:
        demo, url = launch(runs_dir, *flags)
    finally:
        mp.undo()
    pages = {}
    try:
        pages.update((name, Page(url, auth)) for name, auth in (people or {}).items())
        ev = lambda module, name: fn_index(demo, f"ui.{module}", name)
        yield SimpleNamespace(demo=demo, url=url, runs=runs_dir, ev=ev, **pages)
    finally:
        for page in pages.values():
            page.close()
        demo.runs.stop()
        demo.runs.wait_idle(60)
        demo.close()


def make_ctx(runs_dir: Path, data_dir: Path):
    """The app's context over a fresh CPU RunManager and the shipped checkpoints (handler tests)."""
    from cnn.runs import RunManager
    from ui.common import AppContext

    return AppContext(
        RunManager(runs_dir, data_dir, device="cpu"), str(checkpoint("mnist")), str(checkpoint("cifar10"))
    )


def playwright_and_chromium():
    """(Playwright's sync_playwright, the path of Debian's chromium) for the browser tests; skips
    locally and fails in CI when either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright Python package is not installed (pip install playwright)")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        missing("Debian's chromium is not installed: apt-get install -y chromium")
    return sync_playwright, exe


SOFTWARE_WEBGL_JS = Path(__file__).with_name("software_webgl.js")


def software_webgl(context):
    """The browser context with tests/software_webgl.js added to each of its pages: the drawing
    editors' PixiJS then draws one texture a batch, the same pixels for less of the CPU (why: the
    file's comment). Every browser context of the tests goes through here; returns the context."""
    context.add_init_script(path=str(SOFTWARE_WEBGL_JS))
    return context


def screenshot_dir() -> Path:
    """Where the browser tests save their screenshots: .scratch/screenshots/, or the docs' own
    folder when they are retaken on purpose (CNN_UPDATE_SCREENSHOTS=1, bench/update_screenshots.sh)."""
    if os.environ.get("CNN_UPDATE_SCREENSHOTS") == "1":
        return ROOT / "docs" / "screenshots"
    folder = SCRATCH / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def claimed_png(width: int, height: int) -> bytes:
    """A PNG whose header says width x height and that holds no pixels: tiny on disk (57 bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")
