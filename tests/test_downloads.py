"""Issue 26: a checkpoint outside the folders Gradio serves is offered as a copy (ui.common.servable):
one per checkpoint file, never shared by two runs with one name, and written atomically."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

import ui.common as common


@pytest.fixture()
def outside(tmp_path, monkeypatch):
    """Checkpoints in folders neither the working directory nor the temp directory holds."""
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(temp))
    monkeypatch.setattr(common, "DOWNLOADS", temp / "cnn-playground-downloads")
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
