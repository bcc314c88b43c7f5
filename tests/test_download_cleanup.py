"""The files made for downloads and exports are removed (issue 31), and only then (issue 36): a
run's files once the run's checkpoint is gone, an export once its time is past; nothing is left in
the temp directory by an export (ui/downloads.py)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from app_helpers import checkpoint

from ui import downloads


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "DOWNLOADS", tmp_path / "downloads")
    monkeypatch.setattr(downloads, "_kept", {})
    monkeypatch.setattr(downloads, "_exports", {})
    return tmp_path / "downloads"


def test_a_runs_files_go_with_the_run_and_not_before(folder, tmp_path):
    run = tmp_path / "runs" / "digits.safetensors"
    run.parent.mkdir()
    shutil.copyfile(checkpoint("mnist"), run)
    offered = Path(downloads.offer_run_file(run))
    assert offered.is_file() and offered.read_bytes() == run.read_bytes() and offered.is_relative_to(folder)
    assert downloads.sweep(now=time.time() + 10**6) == 0 and offered.is_file()  # however late: the run is there
    run.unlink()
    assert downloads.sweep() == 1 and not offered.parent.exists()


def test_an_export_goes_after_its_time(folder, tmp_path):
    made = tmp_path / "shapes.zip"
    made.write_bytes(b"zip")
    offered = Path(downloads.offer_export(made, ttl_s=60))
    assert offered.is_file() and not made.exists()  # moved, not copied: nothing left where it was made
    assert downloads.sweep(now=time.time() + 30) == 0 and offered.is_file()
    assert downloads.sweep(now=time.time() + 61) == 1 and not offered.parent.exists()


def test_a_teach_export_leaves_nothing_in_the_temp_directory(folder, tmp_path, monkeypatch):
    from cnn.projects import Project
    from cnn.runs import RunManager
    from ui import teach_tab
    from ui.common import AppContext

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    project = Project.create("Shapes", "drawings", tmp_path / "data")
    ctx = AppContext(RunManager(tmp_path / "runs", tmp_path / "data", device="cpu"), "", "")
    zipped = Path(teach_tab.export(ctx, str(project.path)))
    assert zipped.is_file() and zipped.suffix == ".zip" and zipped.is_relative_to(folder)
    assert list((tmp_path / "tmp").iterdir()) == []
