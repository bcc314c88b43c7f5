"""The Teacher tab: a teacher (a login named by --admins) sees every run waiting or training, whose it
is, what it trains and since when, and can stop or cancel any of them, or delete any user's kept
run. The tab shows only for those logins; every event checks on the server that the request comes
from one, since a hidden event can still be called over HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from cnn.errors import CnnError
from cnn.owners import owner_folder
from cnn.run_index import delete_run
from cnn.runs import Run

from .common import AppContext, bind, friendly

COLUMNS = ["run", "who", "what", "status", "since", "place"]


def rows(ctx: AppContext) -> list[list]:
    """One row per run training, then per run waiting, in the queue's order."""
    out = []
    for run in ctx.runs.active():
        place = ctx.runs.place(run)
        out.append([run.id, _who(run), _what(run), str(run.status), _since(run), place or ""])
    return out


def _who(run: Run) -> str:
    return run.owner or (f"address {run.person}" if run.person else f"session {str(run.session)[:8]}")


def _what(run: Run) -> str:
    c = run.config
    if c.project is not None:
        return f"teaching {c.project}"
    return f"{c.model} on {Path(str(c.dataset)).name}, {float(c.epochs):g} epochs"


def _since(run: Run) -> str:
    return time.strftime("%H:%M:%S", time.localtime(run.started_at))


def _admin(ctx: AppContext, request: gr.Request | None) -> None:
    if not ctx.is_admin(request):
        raise CnnError("Only a teacher (a login named by --admins) can use the Teacher tab.")


@friendly
def refresh(ctx: AppContext, request: gr.Request = None) -> list[list]:
    _admin(ctx, request)
    return rows(ctx)


@friendly
def stop_run(ctx: AppContext, run_id: str, request: gr.Request = None) -> dict:
    """Stop a training run or take a waiting one out of the queue, whoever's it is."""
    _admin(ctx, request)
    run = next((r for r in ctx.runs.active() if r.id == str(run_id or "").strip()), None)
    if run is None:
        raise CnnError(f"No run {run_id!r} is waiting or training. Refresh the table and copy its id.")
    user = getattr(request, "username", "a teacher")
    ctx.runs.stop_run(run, f"Cancelled by the teacher ({user}) before its turn.")
    run.note = run.note or f"Stopped by the teacher ({user})."
    return {"message": f"Stopped {run.id} ({_who(run)}).", "table": rows(ctx)}


@friendly
def delete_users_run(ctx: AppContext, user: str, name: str, request: gr.Request = None) -> str:
    """Delete a kept run (checkpoint and log) of any user."""
    _admin(ctx, request)
    folder = owner_folder(ctx.runs.runs_dir, str(user or "").strip())
    protected = (ctx.draw_checkpoint, ctx.photo_checkpoint, *ctx.runs.executor.protected)
    removed = delete_run(folder, str(name or "").strip(), protected)
    return f"Deleted {', '.join(p.name for p in removed)} of {user}."


def build(ctx: AppContext, demo: gr.Blocks) -> None:
    """The tab and its events (call inside the Tabs); hidden until a teacher's page loads."""
    with gr.Tab("Teacher", id="teacher", visible=False) as tab:
        gr.Markdown("Every run waiting or training, everyone's. Copy a run's id to stop or cancel it.")
        table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="teacher-runs")
        refresh_btn = gr.Button("Refresh", elem_id="teacher-refresh")
        with gr.Row():
            run_id = gr.Textbox(label="Run id", elem_id="teacher-run-id")
            stop_btn = gr.Button("Stop or cancel this run", variant="stop", elem_id="teacher-stop")
        with gr.Row():
            user = gr.Textbox(label="User (login)")
            name = gr.Textbox(label="Kept run (as their Runs tab names it)")
            delete_btn = gr.Button("Delete this user's run", variant="stop")
        message = gr.Markdown()
    private = dict(api_visibility="private")

    def stop_pressed(run_id: str, request: gr.Request):
        out = stop_run(ctx, run_id, request)
        return {message: out["message"], table: out["table"]}

    def loaded(request: gr.Request):
        admin = ctx.is_admin(request)
        return {tab: gr.update(visible=admin), table: rows(ctx) if admin else gr.skip()}

    refresh_btn.click(bind(refresh, ctx), None, table, **private)
    stop_btn.click(stop_pressed, run_id, [message, table], **private)
    delete_btn.click(bind(delete_users_run, ctx), [user, name], message, **private)
    demo.load(loaded, None, [tab, table], **private)
