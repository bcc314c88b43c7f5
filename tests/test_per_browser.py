"""An app others can reach without logins (--per-browser, the default off loopback): each browser's
work is its own, by an identity the server issues in a signed cookie, on every route, private
events included (called here by fn_index over HTTP, as a script would: tests/page_client.py). A
client cannot claim another's identity, and one address holds one place in the queue (issue 31)."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
from app_helpers import checkpoint, served_to
from page_client import Page

from ui.identity import COOKIE, Identity

START = ["MNIST", "", "mnist_fast", "mnist_fast", 50, 64, 0.01, "adam", "2000", "200", False, ""]  # until stopped


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    runs = tmp_path_factory.mktemp("per-browser") / "runs"
    with served_to(runs, "--per-browser", "--data-dir", str(data_dir), people=dict(ana=None, eve=None)) as s:
        yield s


def listed(server, page) -> list[str]:
    ok, out = page.call(server.ev("runs_tab", "refresh"), [], None)
    assert ok, out
    return [row[0] for row in out[0]["data"]]


def identity_of(page) -> str:
    value = page.http.cookies.get(COOKIE)
    assert value, "the server issued no identity"
    return value.partition(".")[0]


@pytest.fixture(scope="module")
def anas_run(server):
    listed(server, server.ana)  # her first request: the server issues her identity
    folder = server.runs / "users" / identity_of(server.ana)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint("mnist"), folder / "ana-digits.safetensors")
    return "ana-digits"


def test_each_browser_gets_its_own_signed_identity(server):
    listed(server, server.ana)
    listed(server, server.eve)
    a, e = server.ana.http.cookies.get(COOKIE), server.eve.http.cookies.get(COOKIE)
    assert a and e and a != e
    assert server.demo.ctx.identity.verify(a) == identity_of(server.ana)
    forged = identity_of(server.ana) + "." + "0" * 32  # her id, without the server's signature
    assert server.demo.ctx.identity.verify(forged) is None and Identity().verify(a) is None  # another secret


def test_a_stranger_neither_sees_nor_deletes_nor_downloads_anothers_run(server, anas_run):
    assert anas_run in listed(server, server.ana)
    assert anas_run not in listed(server, server.eve)
    for name, args in (("delete", (anas_run, True, [])), ("download", (anas_run,)), ("use_run", (anas_run,))):
        ok, out = server.eve.call(server.ev("runs_tab", name), *args)
        assert not ok and anas_run in str(out), (name, out)
    assert (server.runs / "users" / identity_of(server.ana) / f"{anas_run}.safetensors").is_file()
    ok, out = server.ana.call(server.ev("runs_tab", "download"), anas_run)
    assert ok and server.ana.file(out[0]["value"]["url"]) == checkpoint("mnist").read_bytes()


def test_a_forged_or_missing_cookie_is_not_anas(server, anas_run):
    script = Page(server.url)
    try:
        script.http.cookies.set(COOKIE, identity_of(server.ana) + "." + "f" * 32)  # her id, a made-up signature
        assert anas_run not in listed(server, script)
        ok, out = script.call(server.ev("runs_tab", "delete"), anas_run, True, [])
        assert not ok
        script.http.cookies.clear()  # a client that keeps no cookies is its address
        assert server.demo.ctx.owner(SimpleNamespace(cookies={}, client=SimpleNamespace(host="10.1.2.3"))) == (
            "a10.1.2.3"
        )
    finally:
        script.close()
    assert (server.runs / "users" / identity_of(server.ana) / f"{anas_run}.safetensors").is_file()


def test_one_address_holds_one_place_however_many_sessions(server):
    start = server.ev("train_tab", "start")
    ok, out = server.ana.call(start, *START, "ana-token", None, None)
    assert ok, out
    try:
        first = server.demo.runs.active()
        assert len(first) == 1 and first[0].person == "127.0.0.1"
        for page, token in ((server.eve, "eve-token"), (server.ana, "another-tab")):  # the same address
            page.call(start, *START, token, None, None)  # (refused with a warning: "You already have a run")
            assert server.demo.runs.active() == first  # nothing more queued
    finally:
        server.demo.runs.stop()
        assert server.demo.runs.wait_idle(120)


def test_runs_already_in_the_shared_folder_are_read_only_to_each_browser(server):
    """A run made by the command line (in the app's own runs folder) shows to every browser as
    'shared/<name>': usable in the Draw tab and downloadable, never deletable."""
    shutil.copyfile(checkpoint("mnist"), server.runs / "class-digits.safetensors")
    key = "shared/class-digits"
    for page in (server.ana, server.eve):
        assert key in listed(server, page)
        ok, out = page.call(server.ev("runs_tab", "use_run"), key)
        assert ok, out
        ok, out = page.call(server.ev("runs_tab", "download"), key)
        assert ok and page.file(out[0]["value"]["url"]) == checkpoint("mnist").read_bytes()
        ok, out = page.call(server.ev("runs_tab", "delete"), key, True, [])
        assert not ok and "read-only" in str(out), out
    assert (server.runs / "class-digits.safetensors").is_file()
    for sneaky in ("shared/../class-digits", "shared/users"):  # nothing but a run of that one folder
        ok, out = server.eve.call(server.ev("runs_tab", "use_run"), sneaky)
        assert not ok, (sneaky, out)
