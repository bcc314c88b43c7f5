"""The Teacher tab (--admins): a teacher sees every run waiting or training and stops any of them, or
deletes any user's kept run; a learner calling the same private events by fn_index over HTTP is
refused (issue 31)."""

from __future__ import annotations

import time

import pytest
from app_helpers import served_to

ADA, BOB, TEACHER = ("ada", "ada-pw-1"), ("bob", "bob-pw-2"), ("mrs-t", "teach-pw-3")
LONG = ["MNIST", "", "mnist_fast", "mnist_fast", 50, 64, 0.01, "adam", "2000", "200", False, ""]


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    runs = tmp_path_factory.mktemp("teacher") / "runs"
    logins = ",".join(f"{u}:{p}" for u, p in (ADA, BOB, TEACHER))
    people = dict(ada=ADA, bob=BOB, teacher=TEACHER)
    with served_to(runs, "--data-dir", str(data_dir), "--admins", TEACHER[0], logins=logins, people=people) as s:
        yield s


def test_a_teacher_sees_and_stops_a_learners_run_and_a_learner_cannot(server):
    ok, out = server.bob.call(server.ev("train_tab", "start"), *LONG, "bob-page", None, None)
    assert ok, out
    bobs = server.demo.runs.active()[0]
    for attempt in (("refresh",), ("stop_pressed", bobs.id)):
        ok, out = server.ada.call(server.ev("teacher_tab", attempt[0]), *attempt[1:])
        assert not ok and "Only a teacher" in str(out), out
    assert not bobs.stop_event.is_set()
    ok, table = server.teacher.call(server.ev("teacher_tab", "refresh"))
    assert ok, table
    row = next(r for r in table[0]["data"] if r[0] == bobs.id)
    assert row[1] == "bob" and row[2] == "mnist_fast on mnist, 50 epochs"
    ok, out = server.teacher.call(server.ev("teacher_tab", "stop_pressed"), bobs.id)
    assert ok and "Stopped" in str(out), out
    end = time.time() + 120
    while not bobs.done and time.time() < end:
        time.sleep(0.1)
    assert bobs.status == "stopped" and bobs.checkpoint.is_file()  # stopped, weights kept


def test_a_teacher_deletes_a_learners_kept_run_and_a_learner_cannot(server):
    runs = sorted((server.runs / "users" / "bob").glob("*.safetensors"))
    assert runs, "the run of the test before is kept"
    name = runs[0].stem
    ok, out = server.ada.call(server.ev("teacher_tab", "delete_users_run"), "bob", name)
    assert not ok and runs[0].is_file()
    ok, out = server.teacher.call(server.ev("teacher_tab", "delete_users_run"), "bob", name)
    assert ok and "Deleted" in str(out) and not runs[0].exists(), out
