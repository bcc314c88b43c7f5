"""The files the app makes for downloads and exports (checkpoint copies, ONNX files, project zips,
Teach's checkpoints) live in one folder under the temp directory, one sub-folder each, and are
removed DOWNLOAD_TTL seconds after they were last handed out, and oldest first while the folder
holds more than MAX_DOWNLOAD_BYTES. Gradio copies a file it serves into its own cache (removed by
the app's delete_cache), so removing ours never breaks a download the page already offers.

Sweeps run whenever a new download is made, and every SWEEP_SECONDS in a background thread
(`start_sweeping`), so the folder empties when nobody downloads anything more.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

DOWNLOAD_TTL = int(os.environ.get("CNN_DOWNLOAD_TTL") or 600)  # seconds
MAX_DOWNLOAD_BYTES = 2 * 1024**3
SWEEP_SECONDS = 60
LOCK = threading.RLock()  # a sweep, and a reused download being written, one at a time


def _entries(root: Path) -> list[tuple[float, int, Path]]:
    """(last handed out, bytes, path) of every top-level entry: a folder's newest file counts."""
    out = []
    for e in os.scandir(root):
        p = Path(e.path)
        try:
            if e.is_dir(follow_symlinks=False):
                stats = [f.stat() for f in p.rglob("*") if f.is_file() and not f.is_symlink()]
                newest = max([s.st_mtime for s in stats] + [e.stat().st_mtime])
                out.append((newest, sum(s.st_size for s in stats), p))
            else:
                st = e.stat(follow_symlinks=False)
                out.append((st.st_mtime, st.st_size, p))
        except OSError:  # removed meanwhile
            continue
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sweep(root: str | os.PathLike, ttl: float | None = None, max_bytes: int | None = None, now=None) -> list[Path]:
    """Remove what was handed out over `ttl` seconds ago, then the oldest while the rest is over
    `max_bytes`; the paths removed."""
    root = Path(root)
    ttl = DOWNLOAD_TTL if ttl is None else ttl
    max_bytes = MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes
    now = time.time() if now is None else now
    if not root.is_dir():
        return []
    with LOCK:
        entries = sorted(_entries(root), key=lambda e: e[0])
        gone = [p for t, _, p in entries if now - t > ttl]
        kept = [(t, n, p) for t, n, p in entries if now - t <= ttl]
        total = sum(n for _, n, _ in kept)
        for _, n, p in kept[:-1]:  # never the newest: it is being handed out now
            if total <= max_bytes:
                break
            gone.append(p)
            total -= n
        for p in gone:
            _remove(p)
    return gone


def fresh_folder(root: str | os.PathLike, prefix: str) -> Path:
    """A new, empty folder for one download under `root` (swept first)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    sweep(root)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


def handed_out(path: str | os.PathLike) -> str:
    """Mark a reused download as handed out now (its age starts again), and return it."""
    try:
        os.utime(path)
    except OSError:
        pass
    return str(path)


_sweeper: threading.Thread | None = None


def start_sweeping(root_of, interval: float = SWEEP_SECONDS) -> threading.Thread:
    """A daemon thread that sweeps root_of() (a function: tests move the folder) every `interval`;
    one per process (later calls return it)."""
    global _sweeper
    if _sweeper is not None and _sweeper.is_alive():
        return _sweeper

    def loop():
        while True:
            time.sleep(interval)
            try:
                sweep(root_of())
            except OSError:
                pass

    _sweeper = threading.Thread(target=loop, name="downloads-sweeper", daemon=True)
    _sweeper.start()
    return _sweeper
