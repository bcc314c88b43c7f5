"""Atomic file writes: write a temporary file beside the target, fsync it, then rename over it.

A crash or kill mid-write leaves the old file (or none) in place, never a half-written one.
"""

import contextlib
import os
import tempfile
import time
from pathlib import Path

STALE_SECONDS = 3600  # a temporary file this old was left by a writer that was killed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yields a temporary path in the target's folder; on success it replaces the target."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the final file gets the usual mode
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _remove_stale(target: Path) -> None:
    now = time.time()
    for old in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if now - old.stat().st_mtime > STALE_SECONDS:
                old.unlink()
        except OSError:
            pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
