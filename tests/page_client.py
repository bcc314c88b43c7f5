"""A browser page without the browser: log in, then call any of the app's events the way the page's
JavaScript does (POST /gradio_api/queue/join with the event's fn_index and the page's session hash,
the answer read from the session's event stream). gradio_client cannot call the events the app
keeps private (api_visibility="private"); a page, or anyone who writes these two requests, can,
so the tests that say what a user cannot do call them this way."""

from __future__ import annotations

import json
import uuid

import httpx


def fn_index(demo, module: str, name: str) -> int:
    """The index of the first event whose handler is module.name (bound by functools.partial or
    ui.common.bind, or the function itself); events of one handler take the same inputs."""
    found = []
    for i, f in demo.fns.items():
        fn = getattr(f.fn, "func", None) or getattr(f.fn, "__wrapped__", None) or f.fn
        if fn is not None and getattr(fn, "__module__", "") == module and getattr(fn, "__name__", "") == name:
            found.append(i)
    assert found, f"no event calls {module}.{name}"
    return found[0]


class Page:
    """One page of one logged-in user (auth: (user, password), or None without logins)."""

    def __init__(self, url: str, auth: tuple[str, str] | None = None, timeout: float = 120):
        self.http = httpx.Client(base_url=url, timeout=timeout)
        if auth is not None:
            r = self.http.post("login", data={"username": auth[0], "password": auth[1]})
            assert r.status_code == 200, f"login as {auth[0]}: {r.status_code}"
        self.session = uuid.uuid4().hex[:11]
        self.last: dict = {}  # the last event's whole answer (a gr.render's output is in it)

    def call(self, index: int, *data) -> tuple[bool, object]:
        """(True, the outputs) or (False, the refusal) of event `index` with these inputs. A page
        event's refusal is a warning that changes nothing (ui/refusals.py), so a "Not done" warning
        counts as one, as an error does."""
        body = {"data": list(data), "fn_index": index, "session_hash": self.session, "event_data": None}
        r = self.http.post("gradio_api/queue/join", json=body)
        if r.status_code != 200:
            return False, r.text
        event, warned = r.json()["event_id"], None
        with self.http.stream("GET", "gradio_api/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") == event and msg.get("msg") == "log" and msg.get("title") == "Not done":
                    warned = str(msg.get("log"))
                if msg.get("event_id") == event and msg.get("msg") == "process_completed":
                    self.last = msg
                    out = msg.get("output") or {}
                    if not msg.get("success"):
                        return False, str(out.get("error"))
                    return (False, warned) if warned is not None else (True, out.get("data"))
        raise AssertionError(f"event {index} never completed")

    def file(self, url: str) -> bytes:
        r = self.http.get(url)
        r.raise_for_status()
        return r.content

    def close(self) -> None:
        self.http.close()
