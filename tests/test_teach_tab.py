"""The Teach tab's handlers (ui/teach_tab.py), called directly without a server: a drawings project
made, filled, trained (fine-tuning the shipped MNIST model) and used in the Draw tab; uploads and
zips; what a page cannot do (another folder, a project deleted meanwhile)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import threading
import warnings
import zipfile
from pathlib import Path

import gradio as gr
import pytest
import torch
from app_helpers import ROOT, checkpoint
from PIL import Image
from test_projects import png, stroke

from cnn import cpu_share
from cnn.cpu_share import PROCESS_THREADS
from cnn.projects import Project
from cnn.run_index import list_runs
from cnn.runs import RunConfig, RunManager
from ui import outputs, runs_table, teach_tab, train_tab, words
from ui.app import build_app
from ui.common import AppContext, headline, md
from ui.draw_tab import ANSWER, draw, model_words
from ui.outputs import named
from ui.teach_view import VIEW

warnings.filterwarnings("ignore", message=".*outside of a gradio.*")


@pytest.fixture()
def ctx(tmp_path) -> AppContext:
    return AppContext(
        RunManager(tmp_path / "runs", tmp_path / "data", device="cpu"),
        str(checkpoint("mnist")),
        str(checkpoint("cifar10")),
    )


def sketch(im) -> dict:
    """A Sketchpad value (type='pil'): the strokes on a layer, no composite."""
    return {"background": None, "layers": [im], "composite": None}


def drawn(im) -> str:
    """What the Teach canvas sends (ui/static/teach.js): its drawing as a PNG data URL."""
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def shown(values: tuple) -> dict:
    return dict(zip(VIEW, values))


def made(ctx, per_class: int = 5) -> str:
    v = shown(teach_tab.create_project(ctx, "Rings & bars", "drawings"))
    path = v["project"]
    for name in ("ring", "bar"):
        teach_tab.add_class(ctx, path, name)
        for k in range(per_class):
            teach_tab.add_drawing(ctx, drawn(stroke(name, k)), path, name)
    return path


def test_make_a_project_train_it_and_use_it_in_the_draw_tab(ctx):
    path = made(ctx)
    v = shown(teach_tab.pick_class(ctx, path, "ring"))
    assert (
        "**ring**: 5 · **bar**: 5" in v["summary"]
        and v["overview"].width == 2 * (112 + 8) + 8
        and len(v["examples"]) == 5
    )
    assert teach_tab.seen(ctx, drawn(stroke("ring")), path).size == (168, 168)
    outs = list(teach_tab.teach(ctx, path, teach_tab.START[0]))
    final = dict(zip(teach_tab.RESULT, outs[-1]))
    assert final["status"].startswith("Done: saved `teach-rings-bars-")
    assert "**Held-out accuracy: 2 of 2 (100%)**, fine-tuned from mnist.safetensors" in final["result"]
    assert final["to_draw"].visible and not final["to_photo"].visible and Path(final["download"]).is_file()
    used = outputs.named(train_tab.USED, train_tab.use_in(ctx, "draw", final["last_model"]))
    model, about = used["model"], used["about"]
    assert model == final["last_model"]
    # where it comes from: the project by name and folder (under the data directory), the checkpoint
    project_folder = Path(path).relative_to(ctx.runs.data_dir).as_posix()
    assert about.startswith(
        f'Model: **mnist\\_mid taught the project "Rings & bars" ({project_folder}), '
        f"held-out accuracy 100.00%, fine-tuned from mnist.safetensors; checkpoint "
    )
    # then which backend serves it and its temperature (fitted on the 2 held-out drawings, kept in [0.5, 2])
    assert f"runs/{md(Path(model).name)}** · served by **" in about and project_folder == "projects/rings-bars"
    assert re.search(r"calibrated: T = (0\.[5-9]\d*|1(\.\d+)?|2)$", about)
    inside_data = ctx.runs.data_dir / "models" / Path(model).name  # a checkpoint kept in the data directory
    inside_data.parent.mkdir()
    shutil.copyfile(model, inside_data)
    assert f"; checkpoint models/{Path(model).name}** · served by" in ctx.about(str(inside_data), "digit")
    probs, seen = (dict(zip(ANSWER, draw(ctx, sketch(stroke("ring", 3)), model)))[k] for k in ("label", "seen"))
    assert set(probs) == {"ring", "bar"} and probs["ring"] > 0.5
    # the Runs tab lists it without a "no log" problem (a Teach run keeps none), its data its project
    (entry,) = [e for e in list_runs(ctx.runs.runs_dir) if e.key == Path(model).stem]
    assert entry.problems == [] and entry.project == "Rings & bars"
    assert runs_table.row(entry)[2] == "project Rings & bars"
    # the Draw tab speaks the taught model's words, and a digit model's again after it
    assert model_words(ctx, model).label == "Draw a ring or bar"
    blank = dict(zip(ANSWER, draw(ctx, sketch(Image.new("RGBA", (420, 420))), model)))
    assert blank["label"] == "Draw a ring or bar"
    assert headline({"ring": 0.6, "bar": 0.4}, words.unsure, "digit") == "Not sure: maybe ring or bar"
    assert model_words(ctx, ctx.shipped("draw")).label == "Draw a digit (0-9)"
    blank = dict(zip(ANSWER, draw(ctx, sketch(Image.new("RGBA", (420, 420))), ctx.shipped("draw"))))
    assert blank["label"].startswith("Draw a digit")


def test_remove_rename_and_delete_with_confirmation(ctx):
    path = made(ctx, per_class=2)
    v = shown(teach_tab.pick_class(ctx, path, "bar"))
    picked = v["files"][0]
    v = shown(teach_tab.remove_example(ctx, path, "bar", picked))
    assert len(v["examples"]) == 1 and picked not in v["files"]
    v = shown(teach_tab.rename_class(ctx, path, "bar", "  bars / sticks "))
    assert v["class_pick"].value == "bars / sticks"
    with pytest.raises(gr.Error, match="Tick 'Yes, delete' first"):
        teach_tab.delete_class(ctx, path, "bars / sticks", False)
    v = shown(teach_tab.delete_class(ctx, path, "bars / sticks", True))
    assert v["class_pick"].choices == [("ring", "ring")]
    with pytest.raises(gr.Error, match="Tick 'Yes, delete this project' first"):
        teach_tab.delete_project(ctx, path, False)
    v = shown(teach_tab.delete_project(ctx, path, True))
    assert v["project"] is None and not Path(path).exists()


def test_many_files_and_a_zip_upload(ctx, tmp_path):
    v = shown(teach_tab.create_project(ctx, "Uploads", "drawings"))
    path = v["project"]
    teach_tab.add_class(ctx, path, "ring")
    files = []
    for k in range(3):
        f = tmp_path / f"r{k}.png"
        f.write_bytes(png(stroke("ring", k)))
        files.append(str(f))
    z = tmp_path / "more.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("bar/a.png", png(stroke("bar", 0)))
        zf.writestr("bar/b.txt", b"text")
    *v, upload = teach_tab.add_files(ctx, path, "ring", files + [str(z)])
    v = shown(tuple(v))
    assert upload is None
    assert "**ring**: 3 · **bar**: 1" in v["summary"]
    z2 = tmp_path / "bad.zip"
    with zipfile.ZipFile(z2, "w") as zf:
        zf.writestr("../bar/a.png", png(stroke("bar", 0)))
    with pytest.raises(gr.Error, match="holds an unsafe path"):
        teach_tab.add_files(ctx, path, "ring", [str(z2)])
    with pytest.raises(gr.Error, match="This looks like a photo, not a drawing"):
        teach_tab.add_picture(ctx, path, "ring", str(ROOT / "examples" / "truck.png"))
    zipped = teach_tab.export(ctx, path)
    names = zipfile.ZipFile(zipped).namelist()
    assert "project.json" in names and sum(n.endswith(".png") for n in names) == 4


def test_what_a_page_cannot_do(ctx, tmp_path):
    with pytest.raises(gr.Error, match="not one of this app's projects"):
        teach_tab.open_project(ctx, str(tmp_path))
    path = made(ctx, per_class=1)
    with pytest.raises(gr.Error, match="The class &#x27;ring&#x27; has only one example|has only one example"):
        list(teach_tab.teach(ctx, path, teach_tab.START[1]))
    shutil.rmtree(path)  # deleted while the app runs (another session, or by hand)
    for call in (
        lambda: teach_tab.add_class(ctx, path, "x"),
        lambda: teach_tab.pick_class(ctx, path, "ring"),
        lambda: list(teach_tab.teach(ctx, path, teach_tab.START[0])),
    ):
        with pytest.raises(gr.Error, match="is gone: its folder was deleted or moved"):
            call()
    assert shown(teach_tab.open_project(ctx, None))["summary"] == "No project open."


def test_what_the_canvas_sends_is_checked_before_it_is_decoded(ctx):
    """The drawing is whatever a client puts in the hidden box: an empty one, another format, a
    damaged one, or one far over the size of a canvas, each refused with what to do, nothing stored."""
    path = made(ctx, per_class=1)
    refusals = {
        "": "The canvas is empty: draw an example first",
        "data:text/html;base64,PGI+": "did not come as a PNG from the page's canvas",
        "data:image/png;base64,***": "arrived damaged",
        "data:image/png;base64," + "A" * (4 * 2**20): "is over 4 MB",
        drawn(Image.new("RGBA", (5000, 4000))): "too large|megapixels",
    }
    for sent, says in refusals.items():
        with pytest.raises(gr.Error, match=says):
            teach_tab.add_drawing(ctx, sent, path, "ring")
    assert len(Project.open(Path(path)).examples("ring")) == 1
    assert teach_tab.seen(ctx, "data:image/png;base64,***", path) is None  # the preview stays quiet


def test_class_names_are_shown_as_typed(ctx):
    """Slashes, dots, spaces and other scripts: stored in safe folders, shown as typed."""
    path = shown(teach_tab.create_project(ctx, "Names", "drawings"))["project"]
    typed = ["a/b", "x.y", "..", "big dog", "猫", "Ёлка"]
    for name in typed:
        v = shown(teach_tab.add_class(ctx, path, name))
    assert v["class_pick"].choices == [(n, n) for n in typed] and v["class_pick"].value == "Ёлка"
    assert " · ".join(f"**{n}**: 0" for n in typed) in v["summary"]
    assert all(p.parent == Path(path) for p in Path(path).iterdir())  # nothing made outside the project
    with pytest.raises(gr.Error, match="There is already a class named"):
        teach_tab.add_class(ctx, path, " BIG  DOG ")


def test_two_sessions_editing_one_project(ctx):
    """One page deletes a class that another still shows: the other's next add says so, and
    adds nothing; a rename in one page is what the other sees next."""
    path = made(ctx, per_class=2)
    teach_tab.delete_class(ctx, path, "bar", True)  # session A
    with pytest.raises(gr.Error, match="has no class &#x27;bar&#x27; \\(any more\\)|has no class 'bar' \\(any more\\)"):
        teach_tab.add_drawing(ctx, drawn(stroke("bar")), path, "bar")  # session B, still on 'bar'
    teach_tab.rename_class(ctx, path, "ring", "circle")  # session A
    v = shown(teach_tab.pick_class(ctx, path, "ring"))  # session B picks the old name
    assert v["class_pick"].choices == [("circle", "circle")] and v["class_pick"].value == "circle"
    assert "**circle**: 2" in v["summary"]
    other = Project.create("Made elsewhere", "photos", data_dir=ctx.runs.data_dir)  # another session
    listed = teach_tab.project_list(ctx, path)  # what opening the Teach tab shows
    assert ("Made elsewhere (photos)", str(other.path)) in listed.choices and listed.value == path
    shutil.rmtree(path)
    assert teach_tab.project_list(ctx, path).value is None


def test_the_app_has_the_teach_tab(ctx):
    demo = build_app(ctx.draw_checkpoint, ctx.photo_checkpoint, ctx.runs)
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {"teach-train", "teach-sketch", "teach-files", "teach-to-draw"} <= ids
    # and its buttons do something: each is the target of an event
    by_elem = {c.get("props", {}).get("elem_id"): c["id"] for c in demo.config["components"]}
    targets = {t[0] for d in demo.config["dependencies"] for t in d["targets"]}
    assert {by_elem["teach-train"], by_elem["teach-to-draw"]} <= targets


def test_teaching_leaves_the_thread_count_as_it_was(ctx, monkeypatch):
    """A Teach run trains on one thread of its own; afterwards the caller's count, and the count a
    thread started later begins with (torch's is per thread, but a new one takes the last set), are
    the process's again (issue 26: the Teach tab set it to one and never put it back). The process
    has two threads here even in a pytest-xdist worker of one (conftest.py), so one is told apart."""
    monkeypatch.setattr(cpu_share, "PROCESS_THREADS", max(2, PROCESS_THREADS))
    worker_threads = torch.get_num_threads()
    torch.set_num_threads(cpu_share.PROCESS_THREADS)
    try:
        teach_twice_and_count_threads(ctx, monkeypatch)
    finally:
        torch.set_num_threads(worker_threads)


def teach_twice_and_count_threads(ctx, monkeypatch) -> None:
    path = made(ctx, per_class=3)
    gate, execute = threading.Event(), ctx.runs.executor.execute

    def held(run, recipe, folder, threads):  # the first run goes on until the second Teach has been refused
        gate.wait(60)
        return execute(run, recipe, folder, threads)

    monkeypatch.setattr(ctx.runs.executor, "execute", held)
    busy = ctx.runs.start(RunConfig.for_project(path, "Rings & bars", "drawings"), session="me")
    with pytest.warns(UserWarning, match="You already have a run"):  # one run per person: Train's and Teach's
        outs = list(teach_tab.teach(ctx, path, teach_tab.START[0], "me"))
    gate.set()
    assert dict(zip(teach_tab.RESULT, outs[-1]))["status"].startswith("⚠️ You already have a run")
    assert ctx.runs.wait_idle(120) and busy.status == "finished"  # (nothing else queued meanwhile)
    before = torch.get_num_threads()
    list(teach_tab.teach(ctx, path, teach_tab.START[0]))
    seen = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert torch.get_num_threads() == before and seen == [cpu_share.PROCESS_THREADS] and cpu_share.PROCESS_THREADS > 1


def test_the_augmentation_panel_on_the_project_and_its_run(ctx, tmp_path):
    """The Teach tab's preview is of the project's own examples, only for its owner; a run taught
    with the panel's spec keeps it."""
    from cnn.checkpoint import read_metadata
    from ui import augment_panel

    path = made(ctx)
    images = augment_panel.project_images(ctx, path)
    assert images.shape[1:] == (1, 28, 28) and 2 <= len(images) <= 10  # the held-out ones are not shown
    caption = lambda spec: named(augment_panel.PREVIEW, augment_panel.draw_preview(lambda: images, spec, 0))["caption"]
    assert f"{len(images)} of {len(images)} unchanged" in caption("none")
    assert "all changed" in caption("elastic=0.5,rotate=20")
    assert caption("rotate=500").startswith("**Not drawn**: rotate must be")
    with pytest.raises(Exception, match="project"):  # a folder outside the projects: not read
        augment_panel.project_images(ctx, str(tmp_path))
    outs = list(teach_tab.teach(ctx, path, teach_tab.START[0], None, "stroke=1,blur=1"))
    final = dict(zip(teach_tab.RESULT, outs[-1]))
    assert read_metadata(final["last_model"])["augment"] == "stroke=1,blur=1"
