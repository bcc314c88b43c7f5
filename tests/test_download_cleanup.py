"""Files made for downloads and exports (ui/downloads.py) are removed DOWNLOAD_TTL seconds after they
were last handed out, oldest first over MAX_DOWNLOAD_BYTES, by every new download and by a
background sweep; the app's own download helpers write only there."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

import ui.common as common
from cnn.projects import Project, export_zip
from ui import downloads, teach_view


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    """DOWNLOADS in a temp directory of the test's own, and checkpoints outside it and the working
    directory (so that servable copies them)."""
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(temp))
    monkeypatch.setattr(common, "DOWNLOADS", temp / "cnn-playground-downloads")
    return common.DOWNLOADS


def age(path: Path, seconds: float) -> None:
    """Make path (and everything in it) look handed out `seconds` ago."""
    then = time.time() - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (then, then))


def checkpoint_outside(tmp_path: Path, name: str, body: bytes = b"weights") -> Path:
    path = tmp_path / "elsewhere" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(body)
    return path


def test_every_download_helper_writes_under_the_folder(folder, tmp_path):
    copy = Path(common.servable(checkpoint_outside(tmp_path, "a.safetensors")))
    teach = Path(teach_view.download_copy(checkpoint_outside(tmp_path, "t.safetensors")))
    project = Project.create("Shapes", "photos", data_dir=tmp_path / "data")
    project.add_class("red")
    project.add_example("red", Image.new("RGB", (40, 40), "red"))
    zipped = export_zip(project, common.download_folder("teach-export-") / "shapes.zip")
    for p in (copy, teach, zipped):
        assert p.is_file() and p.is_relative_to(folder)


def test_downloads_older_than_the_ttl_are_removed_and_newer_ones_kept(folder, tmp_path):
    old = Path(common.servable(checkpoint_outside(tmp_path, "old.safetensors"))).parent
    young = common.download_folder("teach-")
    (young / "t.safetensors").write_bytes(b"x")
    age(old, downloads.DOWNLOAD_TTL + 5)
    age(young, downloads.DOWNLOAD_TTL - 60)
    assert downloads.sweep(folder) == [old]
    assert not old.exists() and (young / "t.safetensors").is_file()


def test_a_new_download_sweeps_the_old_ones(folder, tmp_path):
    old = common.download_folder("teach-export-")
    (old / "p.zip").write_bytes(b"zip")
    age(old, downloads.DOWNLOAD_TTL + 1)
    common.servable(checkpoint_outside(tmp_path, "new.safetensors"))
    assert not old.exists()


def test_a_download_handed_out_again_starts_its_age_again(folder, tmp_path):
    src = checkpoint_outside(tmp_path, "again.safetensors")
    first = Path(common.servable(src))
    age(first.parent, downloads.DOWNLOAD_TTL - 1)
    assert Path(common.servable(src)) == first  # copied again: handed out now
    assert downloads.sweep(folder, now=time.time() + 2) == []


def test_over_the_byte_limit_the_oldest_go_first_never_the_newest(folder):
    made = []
    for k in range(4):
        f = common.download_folder(f"d{k}-")
        (f / "blob").write_bytes(bytes(1000))
        age(f, 100 - k)  # d0 the oldest
        made.append(f)
    gone = downloads.sweep(folder, max_bytes=2500)
    assert gone == made[:2] and all(f.exists() for f in made[2:])
    assert downloads.sweep(folder, max_bytes=10) == [made[2]]  # the newest stays, whatever its size
    assert made[3].exists()


def test_the_background_sweep_removes_files_nobody_asks_for_again(folder, monkeypatch):
    monkeypatch.setattr(downloads, "_sweeper", None)
    monkeypatch.setattr(downloads, "DOWNLOAD_TTL", 0.2)
    f = common.download_folder("teach-")
    (f / "t.safetensors").write_bytes(b"x")
    downloads.start_sweeping(lambda: folder, interval=0.1)
    deadline = time.time() + 5
    while f.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert not f.exists()


def test_the_onnx_export_cache_keeps_only_the_latest(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    from app_helpers import ROOT

    from cnn.serving import onnx_runtime

    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(onnx_runtime, "MAX_CACHED_EXPORTS", 3)
    cache = tmp_path / "onnx"
    cache.mkdir()
    old = []
    for k in range(4):  # exported k+10 minutes ago
        f = cache / f"{k:032d}-v1.onnx"
        f.write_bytes(b"an older export")
        age(f, 600 + 60 * k)
        old.append(f)
    new = onnx_runtime.checkpoint_onnx(ROOT / "checkpoints" / "mnist.safetensors")
    assert new.is_file() and new.stat().st_size > 10_000
    assert sorted(cache.glob("*.onnx")) == sorted([new, old[0], old[1]])
