"""The files the app offers for download, kept as long as a page can show their button.

Gradio copies a file a handler returns into its cache, and the app's `delete_cache` (ui/app.py)
deletes that copy after the upload time-to-live: a download button shown two minutes earlier then
answered 403 (issue 36). So the app puts its downloads in a folder of its own, DOWNLOADS, which
Gradio serves in place (gr.set_static_paths: no cache copy, nothing for delete_cache to delete):

- a kept run's files (its checkpoint, its ONNX export) stay while the run's checkpoint exists;
- an export (a Teach project's .zip) stays EXPORT_TTL_S seconds, which the page states.

Each file lies in a folder named by an HMAC under a key made at start-up, so that nobody can
guess another person's download address from a run's name; who may ask for which run is checked
by the handlers before they offer a file (AppContext.kept_run)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr

from cnn.atomic import atomic_path

log = logging.getLogger(__name__)
DOWNLOADS = Path(tempfile.gettempdir()) / "cnn-playground-downloads"
EXPORT_TTL_S = 3600  # an export's lifetime; the Teach tab's label says "kept for an hour"
SWEEP_EVERY_S = 60.0
_KEY = secrets.token_bytes(32)
_lock = threading.Lock()
_kept: dict[Path, Path] = {}  # a download's folder -> the run checkpoint it belongs to
_exports: dict[Path, float] = {}  # an export's folder -> when it goes (time.time())


def _folder(tag: str) -> Path:
    return DOWNLOADS / hmac.new(_KEY, tag.encode(), hashlib.sha256).hexdigest()[:32]


def offer_run_file(path: str | os.PathLike, *, run: str | os.PathLike | None = None, name: str = "") -> str:
    """A copy of `path` (a run's checkpoint, or a file made from it) to offer for download, kept
    while the run's checkpoint `run` (default: `path` itself) exists. One folder per run file and
    name, so two runs with one name never share a download; written atomically, so that a page
    never serves a half-copied file."""
    src = Path(path).resolve()
    owner = Path(run).resolve() if run else src
    name = name or src.name
    dest = _folder(f"{owner}\n{name}") / name
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
    with _lock:
        _kept[dest.parent] = owner
    return str(dest)


def offer_export(path: str | os.PathLike, ttl_s: float = EXPORT_TTL_S) -> str:
    """Move an export (a file made for this one download) into a folder of its own, kept ttl_s
    seconds."""
    src = Path(path)
    dest = _folder(f"export\n{secrets.token_hex(16)}") / src.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(src, dest)
    with _lock:
        _exports[dest.parent] = time.time() + ttl_s
    return str(dest)


def sweep(now: float | None = None) -> int:
    """Delete the downloads of runs that are gone and the exports past their time; how many."""
    now = time.time() if now is None else now
    with _lock:
        gone = [f for f, run in _kept.items() if not run.exists()]
        gone += [f for f, until in _exports.items() if until <= now]
        for f in gone:
            _kept.pop(f, None)
            _exports.pop(f, None)
    for f in gone:
        shutil.rmtree(f, ignore_errors=True)
    return len(gone)


def _sweep_forever() -> None:
    while True:
        time.sleep(SWEEP_EVERY_S)
        try:
            sweep()
        except Exception:  # a sweep that failed tries again next time
            log.warning("sweeping the downloads failed", exc_info=True)


_sweeper: threading.Thread | None = None


def serve_in_place() -> None:
    """Have Gradio serve DOWNLOADS where it is (not copied into its cache), and sweep it."""
    global _sweeper
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    gr.set_static_paths([DOWNLOADS])
    with _lock:
        if _sweeper is None:
            _sweeper = threading.Thread(target=_sweep_forever, name="downloads-sweep", daemon=True)
            _sweeper.start()
