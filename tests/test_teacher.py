"""The Teacher tab (--admins): a teacher sees every run waiting or training and stops any of them, or
deletes any user's kept run; a learner calling the same private events by fn_index over HTTP is
refused (issue 31)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from app_helpers import launch
from page_client import Page, fn_index

ADA, BOB, TEACHER = ("ada", "ada-pw-1"), ("bob", "bob-pw-2"), ("mrs-t", "teach-pw-3")
LONG = ["MNIST", "", "mnist_fast", "mnist_fast", 50, 64, 0.01, "adam", "2000", "200", False, ""]


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    tmp = tmp_path_factory.mktemp("teacher")
    mp = pytest.MonkeyPatch()
    mp.setenv("CNN_AUTH", ",".join(f"{u}:{p}" for u, p in (ADA, BOB, TEACHER)))
    demo, url = launch(tmp / "runs", "--data-dir", str(data_dir), "--admins", TEACHER[0])
    mp.undo()
    pages = SimpleNamespace(ada=Page(url, ADA), bob=Page(url, BOB), teacher=Page(url, TEACHER))
    yield SimpleNamespace(demo=demo, runs=tmp / "runs", **vars(pages))
    for p in vars(pages).values():
        p.close()
    demo.runs.stop()
    demo.runs.wait_idle(60)
    demo.close()


def ev(server, module, name) -> int:
    return fn_index(server.demo, f"ui.{module}", name)


def test_a_teacher_sees_and_stops_a_learners_run_and_a_learner_cannot(server):
    ok, out = server.bob.call(ev(server, "train_tab", "start"), *LONG, "bob-page", None, None)
    assert ok, out
    bobs = server.demo.runs.active()[0]
    for attempt in (("refresh",), ("stop_pressed", bobs.id)):
        ok, out = server.ada.call(ev(server, "teacher_tab", attempt[0]), *attempt[1:])
        assert not ok and "Only a teacher" in str(out), out
    assert not bobs.stop_event.is_set()
    ok, table = server.teacher.call(ev(server, "teacher_tab", "refresh"))
    assert ok, table
    row = next(r for r in table[0]["data"] if r[0] == bobs.id)
    assert row[1] == "bob" and row[2] == "mnist_fast on mnist, 50 epochs"
    ok, out = server.teacher.call(ev(server, "teacher_tab", "stop_pressed"), bobs.id)
    assert ok and "Stopped" in str(out), out
    end = time.time() + 120
    while not bobs.done and time.time() < end:
        time.sleep(0.1)
    assert bobs.status == "stopped" and bobs.checkpoint.is_file()  # stopped, weights kept


def test_a_teacher_deletes_a_learners_kept_run_and_a_learner_cannot(server):
    runs = sorted((server.runs / "users" / "bob").glob("*.safetensors"))
    assert runs, "the run of the test before is kept"
    name = runs[0].stem
    ok, out = server.ada.call(ev(server, "teacher_tab", "delete_users_run"), "bob", name)
    assert not ok and runs[0].is_file()
    ok, out = server.teacher.call(ev(server, "teacher_tab", "delete_users_run"), "bob", name)
    assert ok and "Deleted" in str(out) and not runs[0].exists(), out
