"""Issue 26: a checkpoint outside the folders Gradio serves is offered as a copy (ui.common.servable):
one per checkpoint file, never shared by two runs with one name, and written atomically."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

import ui.common as common
import ui.downloads as downloads


@pytest.fixture()
def outside(tmp_path, monkeypatch):
    """Checkpoints in folders neither the working directory nor the temp directory holds."""
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(temp))
    monkeypatch.setattr(downloads, "DOWNLOADS", temp / "cnn-playground-downloads")
    return tmp_path


def test_two_runs_with_one_name_get_their_own_downloads(outside):
    a, b = outside / "alice" / "mnist_fast-1.safetensors", outside / "bob" / "mnist_fast-1.safetensors"
    for path, body in ((a, b"alice's weights"), (b, b"bob's weights")):
        path.parent.mkdir()
        path.write_bytes(body)
    got_a, got_b = common.servable(a), common.servable(b)
    assert got_a != got_b and Path(got_a).name == Path(got_b).name == "mnist_fast-1.safetensors"
    assert Path(got_a).read_bytes() == b"alice's weights" and Path(got_b).read_bytes() == b"bob's weights"
    assert common.servable(a) == got_a  # the same run: the same download


def test_a_copy_that_fails_part_way_leaves_no_half_file(outside, monkeypatch):
    src = outside / "runs" / "m.safetensors"
    src.parent.mkdir()
    src.write_bytes(b"x" * 1000)
    first = Path(common.servable(src))
    src.write_bytes(b"y" * 1000)

    def half(s, d):
        Path(d).write_bytes(Path(s).read_bytes()[:500])
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copyfile", half)
    with pytest.raises(OSError):
        common.servable(src)
    assert first.read_bytes() == b"x" * 1000  # the page that had it still serves a whole file
    assert [p.name for p in first.parent.iterdir()] == ["m.safetensors"]  # no temporary left behind


def test_a_runs_download_lasts_as_long_as_the_run_and_an_export_its_time(outside):
    """Issue 36: downloads are swept by what they belong to, never by the upload time-to-live."""
    run, other = outside / "runs" / "a.safetensors", outside / "runs" / "b.safetensors"
    run.parent.mkdir()
    run.write_bytes(b"a")
    other.write_bytes(b"b")
    kept, stays = Path(common.servable(run)), Path(common.servable(other))
    made = outside / "made.zip"
    made.write_bytes(b"zip")
    export = Path(downloads.offer_export(made, ttl_s=60))
    assert export.read_bytes() == b"zip" and not made.exists()
    assert downloads.sweep() == 0 and kept.is_file() and export.is_file()
    run.unlink()  # the run is deleted: its download goes
    assert downloads.sweep() == 1 and not kept.exists() and stays.is_file() and export.is_file()
    assert downloads.sweep(now=time.time() + 61) == 1 and not export.exists() and stays.is_file()


def test_a_download_address_cannot_be_worked_out_from_the_runs_path(outside):
    import hashlib

    run = outside / "alice" / "mnist_fast-1.safetensors"
    run.parent.mkdir()
    run.write_bytes(b"w")
    folder = Path(common.servable(run)).parent.name
    assert len(folder) == 32 and folder not in hashlib.sha256(str(run.resolve()).encode()).hexdigest()
