"""Logins: the handlers themselves, given bob's request, refuse ada's runs and projects; an upload
and a run land in the owner's folder; a checkpoint naming another user's folder shows nothing of it."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from app_helpers import checkpoint

from cnn.errors import CnnError
from cnn.projects import Project
from cnn.run_index import import_checkpoint
from ui import confusion_view, outputs, runs_compare, runs_tab, teach_tab, train_continue
from ui.common import AppContext

ADA, BOB = ("ada", "ada-pass-1815"), ("bob", "bob:pass,x")  # a password may hold ':'
NOT_THERE = "not there any more"  # what a run that is not yours is: the words of a run that never was
NOT_LISTED = "is not in the list of choices"  # Gradio's refusal of a name the page never offered


# ---------------------------------------------------------------- the handlers themselves, with bob's request


@pytest.fixture()
def both(tmp_path, data_dir):
    """A context with logins, ada's run and project, and the two users' requests."""
    from cnn.runs import RunManager

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "MNIST").symlink_to(data_dir / "MNIST")  # her confusion matrix is on MNIST's test set

    ctx = AppContext(
        RunManager(tmp_path / "runs", tmp_path / "data", device="cpu"),
        str(checkpoint("mnist")),
        str(checkpoint("cifar10")),
        logins=True,
    )
    folder = tmp_path / "runs" / "users" / "ada"
    folder.mkdir(parents=True)
    run = import_checkpoint(checkpoint("mnist"), folder, "ada-digits.safetensors").stem
    project = Project.create("Ada's shapes", "drawings", tmp_path / "data", owner="ada")
    return ctx, run, project, SimpleNamespace(username="ada"), SimpleNamespace(username="bob")


@pytest.mark.parametrize(
    "attempt",
    [
        lambda ctx, run, bob: runs_tab.use_run(ctx, run, bob),
        lambda ctx, run, bob: runs_tab.download(ctx, run, bob),
        lambda ctx, run, bob: runs_tab.download_onnx(ctx, run, bob),
        lambda ctx, run, bob: runs_tab.delete(ctx, run, True, [], bob),
        lambda ctx, run, bob: train_continue.continue_settings(ctx, run, 1, bob),
        lambda ctx, run, bob: confusion_view.runs_matrix(ctx, run, bob),
    ],
    ids=["load into Draw", "download checkpoint", "download ONNX", "delete", "continue", "confusion matrix"],
)
def test_a_handler_given_bobs_request_refuses_adas_run(both, attempt):
    ctx, run, _, ada, bob = both
    with pytest.raises(gr.Error, match=f"The run {run} is (not there any more|already gone)"):
        attempt(ctx, run, bob)
    assert ctx.kept_run(run, ada).usable  # still hers, untouched
    attempt(ctx, run, ada)  # and she still can


def test_a_handler_given_bobs_request_refuses_adas_project(both):
    ctx, _, project, ada, bob = both
    for attempt in (teach_tab.open_project, teach_tab.export, teach_tab.pick_class):
        args = (ctx, str(project.path)) + (("ring",) if attempt is teach_tab.pick_class else ())
        with pytest.raises(gr.Error, match="not one of this app's projects"):
            attempt(*args, request=bob)
    with pytest.raises(gr.Error, match="not one of this app's projects"):
        teach_tab.delete_project(ctx, str(project.path), True, bob)
    assert (project.path / "project.json").is_file()
    assert teach_tab.open_project(ctx, str(project.path), ada)[0] == str(project.path)


def test_the_compare_overlay_of_bob_leaves_out_adas_run(both):
    ctx, run, _, _, bob = both
    loss, acc, text = runs_compare.compare(ctx, [run], bob)
    assert loss is None and acc is None and f"{run}: not there any more" in text


def test_without_logins_it_is_one_persons_machine(tmp_path):
    """No login: one folder for everyone, as before logins existed (no users/ folder)."""
    from cnn.runs import RunManager

    ctx = AppContext(RunManager(tmp_path / "runs", tmp_path / "data", device="cpu"), "", "")
    assert ctx.owner(None) is None and ctx.runs_dir_for(None) == tmp_path / "runs"
    assert ctx.projects_dir_for(None) == tmp_path / "data" / "projects"
    with_logins = AppContext(ctx.runs, "", "", logins=True)
    with pytest.raises(CnnError, match="Log in first"):
        with_logins.owner(SimpleNamespace(username=None))


def test_shipped_checkpoints_stay_shared_and_cannot_be_deleted(both):
    ctx, _, _, ada, bob = both
    for who in (ada, bob):
        assert ctx.kept_run("shipped/mnist", who).usable
        with pytest.raises(gr.Error, match="shipped checkpoint; it cannot be deleted"):
            runs_tab.delete(ctx, "shipped/mnist", True, [], who)
    assert Path(checkpoint("mnist")).is_file()


def test_an_upload_goes_to_the_uploaders_folder(both, tmp_path):
    ctx, _, _, _, bob = both
    up = tmp_path / "mine.safetensors"
    shutil.copyfile(checkpoint("mnist"), up)
    runs_tab.upload(ctx, str(up), [], bob)
    assert (tmp_path / "runs" / "users" / "bob" / "mine.safetensors").is_file()


def test_a_run_is_saved_in_its_owners_folder(both, data_dir):
    """A run ada starts trains and lands in her folder; bob's list does not have it."""
    from cnn.runs import RunConfig, RunManager

    shared, _, _, ada, bob = both  # the same runs folder, with MNIST to train on
    runs = RunManager(shared.runs.runs_dir, data_dir, device="cpu")
    ctx = AppContext(runs, shared.draw_checkpoint, shared.photo_checkpoint, logins=True)
    cfg = RunConfig("mnist", "mnist_fast", "mnist_fast", 0.02, 64, 0.01, "adam", 600, 200)
    run = ctx.runs.start(cfg, session="ada-page", owner="ada")
    assert ctx.runs.wait_idle(120) and run.status == "finished", run.message
    assert run.checkpoint.parent == ctx.runs.runs_dir / "users" / "ada"
    key = run.checkpoint.stem
    assert ctx.kept_run(key, ada).usable
    table = outputs.named(runs_tab.REFRESHED, runs_tab.refresh(ctx, [], None, bob))["table"]
    assert key not in list(table["Run"])


def test_a_checkpoint_naming_adas_project_shows_bob_no_confusion_matrix(both):
    """A checkpoint's metadata may name any data set: bob's own upload naming ada's project folder
    gets the words of a folder that is not there, as training on it would (issue 31)."""
    from cnn.checkpoint import load_checkpoint, save_checkpoint

    ctx, _, project, ada, bob = both
    model, meta = load_checkpoint(checkpoint("mnist"))
    meta["dataset"] = str(project.path)
    folder = ctx.runs.runs_dir / "users" / "bob"
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, meta, folder / "peek.safetensors")
    with pytest.raises(gr.Error, match="does not exist"):
        confusion_view.runs_matrix(ctx, "peek", bob)
