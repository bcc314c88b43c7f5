"""The Teach tab's pictures and words (thumbnails, the class overview, a run's progress and result),
and its training run: the engine in a thread of its own, on one CPU thread, events handed back."""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import torch
from PIL import Image, ImageDraw

from cnn.checkpoint import save_checkpoint
from cnn.errors import CnnError
from cnn.projects import SIDE, Plan, Project, list_projects
from cnn.serving.decode import load_image
from cnn.serving.render import confusion_image, enlarge, to_pil
from cnn.training import End, train

from .common import AppContext, md
from .run_view import calibration_text

THUMB = 112
VIEW = (
    "project",
    "choose",
    "summary",
    "overview",
    "class_pick",
    "examples",
    "files",
    "picked",
    "add_btn",
    "sketch",
    "seen",
)  # the Teach tab's outputs that show a project (`view`), in this order


def thumbnail(path: Path) -> Image.Image:
    """An example file as a small picture on white (drawings are strokes on a transparent canvas)."""
    try:
        im = load_image(path)
    except Exception:
        return Image.new("RGB", (THUMB, THUMB), (230, 230, 230))
    if im.mode == "RGBA":
        im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im)
    im = im.convert("RGB")
    im.thumbnail((THUMB, THUMB))
    return im


def summary(project: Project) -> str:
    m = project.manifest()
    classes = project.classes()
    side = "28x28 grey, as the Draw tab" if m["kind"] == "drawings" else "32x32 colour, as the Photo tab"
    lines = [f"### {md(m['name'])}  \n{m['kind'].capitalize()} project · the model sees {side}."]
    if not classes:
        lines.append("No classes yet: add one below (a name for each thing to tell apart).")
    else:
        lines.append(" · ".join(f"**{md(c.name)}**: {c.count}" for c in classes))
        short = [c.name for c in classes if c.count < 2]
        if len(classes) < 2:
            lines.append("Add a second class: teaching needs at least two.")
        elif short:
            lines.append(f"Needs at least 2 examples each: {', '.join(map(md, short))}.")
    return "\n\n".join(lines)


def overview(project: Project, per_row: int = 10) -> Image.Image | None:
    """One tile per class, its newest example above its name and count, as one picture."""
    classes = project.classes()
    if not classes:
        return None
    tile, gap, text = THUMB, 8, 18
    rows = (len(classes) + per_row - 1) // per_row
    cols = min(per_row, len(classes))
    sheet = Image.new("RGB", (cols * (tile + gap) + gap, rows * (tile + text + gap) + gap), "white")
    draw = ImageDraw.Draw(sheet)
    for i, c in enumerate(classes):
        x, y = gap + (i % per_row) * (tile + gap), gap + (i // per_row) * (tile + text + gap)
        files = project.examples(c.name)
        im = thumbnail(files[-1]) if files else Image.new("RGB", (tile, tile), (245, 245, 245))
        sheet.paste(im, (x + (tile - im.width) // 2, y + (tile - im.height) // 2))
        draw.rectangle([x, y, x + tile - 1, y + tile - 1], outline=(210, 210, 210))
        draw.text((x + 2, y + tile + 3), f"{c.name[:14]} · {c.count}", fill="black")
    return sheet


def example_tiles(project: Project, name: str | None) -> tuple[list, list[str]]:
    """(gallery items, their file names) for one class, newest first."""
    if not name:
        return [], []
    files = list(reversed(project.examples(name)))
    return [(thumbnail(f), None) for f in files], [f.name for f in files]


def open_project_at(ctx: AppContext, path, request: gr.Request | None = None) -> Project:
    """The project at path, which must be one of the requesting user's projects (a path from the
    page is not trusted; another user's project is "not one of this app's projects" to them, as any
    other folder), or a CnnError that says what to do."""
    if not path:
        raise CnnError("Open a project first, or create one.")
    root = ctx.projects_dir_for(request).resolve()
    p = Path(str(path)).resolve()
    if p.parent != root:
        raise CnnError("That is not one of this app's projects; pick one from the list.")
    return Project.open(p)


def choices(ctx: AppContext, request: gr.Request | None = None) -> list[tuple[str, str]]:
    """The requesting user's projects (everyone's without logins), for the project dropdown."""
    return [(f"{p.name} ({p.kind})", str(p.path)) for p in list_projects(ctx.runs.data_dir, ctx.owner(request))]


def view(
    ctx: AppContext, project: Project | None, cls: str | None = None, request: gr.Request | None = None, **extra
) -> tuple:
    """The VIEW outputs for a project (None: no project open), with class `cls` selected; the
    project list is the requesting user's."""
    if project is None:
        v = dict(
            project=None,
            choose=gr.Dropdown(choices=choices(ctx, request), value=None),
            summary="No project open.",
            overview=None,
            class_pick=gr.Dropdown(choices=[], value=None),
            examples=[],
            files=[],
            picked=None,
            add_btn=gr.Button("Add to the class", interactive=False),
            sketch=gr.Sketchpad(visible=True),
            seen=gr.Image(value=None),
        )
        return tuple({**v, **extra}[k] for k in VIEW)
    names = project.class_names()
    cls = cls if cls in names else (names[0] if names else None)
    tiles, files = example_tiles(project, cls)
    kind = project.kind
    v = dict(
        project=str(project.path),
        choose=gr.Dropdown(choices=choices(ctx, request), value=str(project.path)),
        summary=summary(project),
        overview=overview(project),
        class_pick=gr.Dropdown(choices=names, value=cls),
        examples=tiles,
        files=files,
        picked=None,
        add_btn=gr.Button(f"Add to {cls}" if cls else "Add a class first", interactive=bool(cls)),
        sketch=gr.Sketchpad(visible=kind == "drawings"),
        seen=gr.Image(label=f"What the model sees ({SIDE[kind]}x{SIDE[kind]})"),
    )
    return tuple({**v, **extra}[k] for k in VIEW)


# ---------------------------------------------------------------- a run

_ONE_AT_A_TIME = threading.Lock()


def run_in_thread(plan: Plan, device, stop: threading.Event) -> Iterator:
    """The engine's events for `plan`, trained in a thread of its own on one CPU thread (batches of
    16 small images gain nothing from more, and on a busy CPU more threads were 10x slower);
    stopped when `stop` is set or the caller stops reading. A CnnError if another Teach run goes."""
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise CnnError("Another Teach run is going (one at a time); try again in a few seconds.")
    events: queue.Queue = queue.Queue()

    def work():
        torch.set_num_threads(1)
        try:
            for ev in train(plan.recipe, plan.data, device=device, stop=stop, init_state=plan.init_state):
                events.put(ev)
        except BaseException as exc:
            events.put(exc)
        finally:
            events.put(None)
            _ONE_AT_A_TIME.release()

    threading.Thread(target=work, name="teach", daemon=True).start()
    try:
        while (item := events.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def progress(ev) -> str:
    bar = f"<progress value='{ev.step}' max='{ev.total_steps}'></progress>"
    return f"{bar} step {ev.step} of {ev.total_steps} · loss {ev.loss:.3f} · {ev.elapsed:.1f} s"


def save(plan: Plan, end: End, runs_dir) -> tuple[Path, str]:
    """(the checkpoint, a copy of it in a fresh temporary folder, for the download button)."""
    path = save_checkpoint(end.model, plan.metadata(end), plan.checkpoint_path(runs_dir))
    copy = Path(tempfile.mkdtemp(prefix="teach-")) / path.name
    shutil.copyfile(path, copy)
    return path, str(copy)


def result_markdown(plan: Plan, end: End) -> str:
    ev, test = end.evaluation, plan.data.test
    how = f"fine-tuned from {Path(plan.init.path).name}" if plan.init else "trained from scratch"
    if ev is None:
        return f"{end.message or end.status.value} ({how})."
    right = int((ev.predictions == test.labels).sum())
    return (
        f"**Held-out accuracy: {right} of {len(test)} ({ev.accuracy:.0%})**, {how} in {end.elapsed:.1f} s "
        f"({len(plan.data.train)} examples learned from). The held-out examples (one in five of each "
        f"class, at least one) were not trained on: they show how well it does on new ones.\n\n"
        + calibration_text(end.metadata)
    )


def confusion(plan: Plan, end: End) -> Image.Image | None:
    return confusion_image(end.evaluation.confusion, plan.data.classes) if end.evaluation else None


def misclassified(plan: Plan, end: End) -> list[tuple[Image.Image, str]]:
    if end.evaluation is None:
        return []
    test, classes = plan.data.test, plan.data.classes
    return [
        (
            enlarge(to_pil(test.images[i]), 112),
            f"{classes[int(test.labels[i])]}, taken for {classes[int(end.evaluation.predictions[i])]}",
        )
        for i in end.evaluation.misclassified(test.labels)
    ]
