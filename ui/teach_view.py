"""The Teach tab's pictures and words: thumbnails, the class overview, a run's progress and result
(the run itself trains in the app's queue of runs, cnn.runs)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from PIL import Image, ImageDraw

from cnn.errors import CnnError
from cnn.projects import SIDE, Project, list_projects
from cnn.runs import Run
from cnn.serving.decode import load_image
from cnn.serving.render import confusion_image, enlarge, to_pil

from . import downloads
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
    "drawing_area",
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
            drawing_area=gr.Column(visible=True),
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
        drawing_area=gr.Column(visible=kind == "drawings"),
        seen=gr.Image(label=f"What the model sees ({SIDE[kind]}x{SIDE[kind]})"),
    )
    return tuple({**v, **extra}[k] for k in VIEW)


# ---------------------------------------------------------------- a run (cnn.runs trains it, in its queue)


def progress(ev) -> str:
    bar = f"<progress value='{ev.step}' max='{ev.total_steps}'></progress>"
    return f"{bar} step {ev.step} of {ev.total_steps} · loss {ev.loss:.3f} · {ev.elapsed:.1f} s"


def download_copy(path: Path) -> str:
    """A copy of the checkpoint for the download button, kept while the run is (ui/downloads.py)."""
    return downloads.offer_run_file(path)


def how(run: Run) -> str:
    return f"fine-tuned from {Path(run.config.init_from).name}" if run.config.init_from else "trained from scratch"


def result_markdown(run: Run) -> str:
    end, test = run.end, run.data.test
    ev = end.evaluation
    if ev is None:
        return f"{end.message or end.status.value} ({how(run)})."
    right = int((ev.predictions == test.labels).sum())
    return (
        f"**Held-out accuracy: {right} of {len(test)} ({ev.accuracy:.0%})**, {how(run)} in {end.elapsed:.1f} s "
        f"({run.start.n_train} examples learned from). The held-out examples (one in five of each "
        f"class, at least one) were not trained on: they show how well it does on new ones.\n\n"
        + calibration_text(end.metadata)
    )


def confusion(run: Run) -> Image.Image | None:
    ev = run.end.evaluation
    return confusion_image(ev.confusion, run.data.classes) if ev is not None else None


def misclassified(run: Run) -> list[tuple[Image.Image, str]]:
    return [(enlarge(to_pil(im), 112), f"{true}, taken for {guess}") for im, true, guess in run.misclassified()]
