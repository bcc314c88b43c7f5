"""Logins keep each person's work their own (ui.logins, cnn.owners, AppContext): two users, ada and
bob, on one server over HTTP. Each attempt of bob's on ada's work is named in its own test: list her
runs, open and load one into Draw, continue it, download its checkpoint and its ONNX, delete it;
open, export and delete her project. Events the page keeps private are called as a page calls
them (tests/page_client.py): the server refuses, whatever the client. The handlers are also called
directly with bob's request, so that the check does not rest on Gradio's own choice lists."""

from __future__ import annotations

import onnx
import pytest
from app_helpers import checkpoint, served_to

from cnn.projects import Project
from cnn.run_index import import_checkpoint

ADA, BOB = ("ada", "ada-pass-1815"), ("bob", "bob:pass,x")  # a password may hold ':'
NOT_THERE = "not there any more"  # what a run that is not yours is: the words of a run that never was
NOT_LISTED = "is not in the list of choices"  # Gradio's refusal of a name the page never offered


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    """The app with two logins (from a file), ada's run and project already made."""
    tmp = tmp_path_factory.mktemp("users")
    data = tmp / "data"
    data.mkdir()
    (data / "MNIST").symlink_to(data_dir / "MNIST")
    logins = tmp / "logins.txt"
    logins.write_text(f"# the class\n{ADA[0]}:{ADA[1]}\n\n{BOB[0]}:{BOB[1]}\n")
    runs = tmp / "runs"
    ada_runs = runs / "users" / "ada"
    ada_runs.mkdir(parents=True)
    run = import_checkpoint(checkpoint("mnist"), ada_runs, "ada-digits.safetensors").stem
    project = Project.create("Ada's shapes", "drawings", data, owner="ada")
    project.add_class("ring")
    with served_to(runs, "--data-dir", str(data), logins=f"@{logins}", people=dict(ada=ADA, bob=BOB)) as s:
        s.data, s.run, s.project = data, run, project
        yield s


def listed(server, page) -> list[str]:
    """The runs a page's Runs tab lists (its Refresh)."""
    ok, out = page.call(server.ev("runs_tab", "refresh"), [], None)
    assert ok, out
    return [row[0] for row in out[0]["data"]]


def ada_still_has_her_run(server):
    assert (server.runs / "users" / "ada" / f"{server.run}.safetensors").is_file()
    assert server.run in listed(server, server.ada)


# ---------------------------------------------------------------- runs, over HTTP


def test_bob_lists_runs_and_sees_only_his_own_and_the_shipped(server):
    assert server.run in listed(server, server.ada)
    bobs = listed(server, server.bob)
    assert server.run not in bobs and bobs == ["shipped/mnist", "shipped/cifar10"]


def test_bob_loads_adas_run_into_draw(server):
    listed(server, server.bob)  # his page has its list, as after opening the tab
    ok, out = server.bob.call(server.ev("runs_tab", "use_run"), server.run)
    assert not ok and server.run in out  # refused: not one of his
    listed(server, server.ada)
    ok, out = server.ada.call(server.ev("runs_tab", "use_run"), server.run)
    assert ok and out[1].startswith("Model: **") and "ada-digits" in out[1]


def test_bob_downloads_adas_checkpoint(server):
    listed(server, server.bob)
    ok, out = server.bob.call(server.ev("runs_tab", "download"), server.run)
    assert not ok and NOT_LISTED in out and server.run in out, out
    listed(server, server.ada)
    ok, out = server.ada.call(server.ev("runs_tab", "download"), server.run)
    assert ok and out[0]["value"]["url"]
    assert server.ada.file(out[0]["value"]["url"]) == checkpoint("mnist").read_bytes()
    ada_file = server.runs / "users" / "ada" / f"{server.run}.safetensors"
    r = server.bob.http.get(f"gradio_api/file={ada_file}")  # her file by its path: Gradio serves no such path
    assert r.status_code in (403, 404), r.status_code


def test_bob_downloads_adas_onnx(server):
    listed(server, server.bob)
    ok, out = server.bob.call(server.ev("runs_tab", "download_onnx"), server.run)
    assert not ok and NOT_LISTED in out and server.run in out, out
    listed(server, server.ada)
    ok, out = server.ada.call(server.ev("runs_tab", "download_onnx"), server.run)
    assert ok, out
    exported = onnx.load_model_from_string(server.ada.file(out[0]["value"]["url"]))
    assert [d.dim_value for d in exported.graph.output[0].type.tensor_type.shape.dim][1:] == [10]  # her 10 digits


def test_bob_continues_adas_run_from_the_runs_tab(server):
    from ui.train_continue import FILLED

    cont = server.ev("train_continue", "continue_settings")
    listed(server, server.bob)
    ok, out = server.bob.call(cont, server.run, 1)
    assert not ok and NOT_LISTED in out and server.run in out, out
    listed(server, server.ada)
    ok, out = server.ada.call(cont, server.run, 1)
    filled = dict(zip(FILLED, out, strict=True))  # (the raw answer over HTTP, named)
    assert ok and filled["continue_from"] == server.run  # the Train tab's 'Continue from run', filled


def test_bob_starts_a_run_continuing_adas_by_typing_its_name(server):
    """'Continue from run' is a text box: the name reaches the server as typed."""
    start = server.ev("train_tab", "start")
    settings = ["MNIST", "", "mnist_fast", "mnist_fast", 0.1, 64, 0.01, "adam", "300", "200", False]
    ok, out = server.bob.call(start, *settings, server.run, None, None, None)  # ..., token, design, augment
    assert not ok and NOT_THERE in out and server.run in out
    assert server.demo.runs.current is None  # nothing started


def test_bob_deletes_adas_run(server):
    listed(server, server.bob)
    ok, out = server.bob.call(server.ev("runs_tab", "delete"), server.run, True, [])
    assert not ok and NOT_LISTED in out and server.run in out, out
    ada_still_has_her_run(server)


def test_bob_compares_adas_run(server):
    listed(server, server.bob)
    overlay = next(i for i, f in server.demo.fns.items() if f.renderable is not None)  # the tab's one gr.render
    ok, out = server.bob.call(overlay, [server.run])
    assert not ok, out  # not one of his runs to choose
    listed(server, server.ada)
    ok, out = server.ada.call(
        overlay, [server.run]
    )  # hers: the render knows who asks (ui.gradio_internals.current_request)
    rendered = str(server.ada.last["output"])  # what the render made: her run found (an import has no curves)
    assert ok and f"No curves for {server.run}: no training log" in rendered and NOT_THERE not in rendered


def test_bob_shows_the_confusion_matrix_of_adas_run(server):
    listed(server, server.bob)
    ok, out = server.bob.call(server.ev("confusion_view", "runs_matrix"), server.run)
    assert not ok and NOT_LISTED in out and server.run in out, out
    listed(server, server.ada)
    ok, out = server.ada.call(server.ev("confusion_view", "runs_matrix"), server.run)
    assert ok, out
    note = next(o for o in out if isinstance(o, str) and o.startswith(f"**{server.run}**"))
    assert float(note.split(": ")[1].split("%")[0]) > 98  # the shipped MNIST net's test accuracy, hers


def api_client(server, auth):
    from gradio_client import Client

    return Client(server.url, auth=auth, verbose=False)


def test_bob_predicts_with_adas_run_through_the_api(server, tmp_path):
    from fuzz_inputs import seven
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    image = tmp_path / "seven.png"
    seven().save(image)
    with pytest.raises(AppError, match=f"The run {server.run} is not there any more"):
        api_client(server, BOB).predict(handle_file(str(image)), run=server.run, api_name="/predict_digit")
    probs = api_client(server, ADA).predict(handle_file(str(image)), run=server.run, api_name="/predict_digit")
    assert max(probs, key=probs.get) == "7"


def test_bob_trains_through_the_api_on_adas_project_folder(server):
    from gradio_client.exceptions import AppError

    folder = f"projects/users/ada/{server.project.path.name}"
    with pytest.raises(AppError, match="does not exist"):
        api_client(server, BOB).predict(dataset=folder, model="mnist_fast", epochs=0.1, api_name="/train")
    assert server.demo.runs.current is None


# ---------------------------------------------------------------- projects, over HTTP


def projects(server, page) -> list:
    ok, out = page.call(server.ev("teach_tab", "project_list"), None)
    assert ok, out
    return out[0]["choices"]


def test_bob_lists_projects_and_sees_none_of_adas(server):
    assert [c[0] for c in projects(server, server.ada)] == ["Ada's shapes (drawings)"]
    assert projects(server, server.bob) == []


def test_bob_opens_adas_project(server):
    projects(server, server.bob)
    ok, out = server.bob.call(server.ev("teach_tab", "open_project"), str(server.project.path))
    assert not ok and "Ada" not in out, out
    projects(server, server.ada)
    ok, out = server.ada.call(server.ev("teach_tab", "open_project"), str(server.project.path))
    assert ok and "Ada" in out[2]


def test_bob_exports_and_deletes_adas_project(server):
    """His page has no project open (he could not open hers): export and delete have nothing to act on."""
    projects(server, server.bob)
    ok, out = server.bob.call(server.ev("teach_tab", "export"), None)
    assert not ok and "Open a project first" in out
    ok, out = server.bob.call(server.ev("teach_tab", "delete_project"), None, True)
    assert not ok and "Open a project first" in out
    assert (server.project.path / "project.json").is_file()


def test_bobs_new_project_is_his(server):
    ok, out = server.bob.call(server.ev("teach_tab", "create_project"), "Bob's birds", "photos")
    assert ok, out
    assert (server.data / "projects" / "users" / "bob" / "bob-s-birds" / "project.json").is_file()
    assert [c[0] for c in projects(server, server.ada)] == ["Ada's shapes (drawings)"]


def test_bob_trains_on_adas_project_folder_as_an_image_folder(server):
    """The Train tab's image folder is a path a person types: another user's folder is not one."""
    start = server.ev("train_tab", "start")
    folder = f"projects/users/ada/{server.project.path.name}"
    settings = ["Image folder", folder, "mnist_fast", "mnist_fast", 0.1, 8, 0.01, "adam", "", "", False, ""]
    ok, out = server.bob.call(start, *settings, None, None, None)  # ..., owner token, design, augment
    assert not ok and "does not exist" in out
    assert server.demo.runs.current is None
