"""Waiting costs the server no thread (issue 31): with more /train jobs waiting than Gradio has worker
threads (40), predictions still answer, and a waiting job that its client cancels leaves the queue
at once. Each waiting job here is a person of its own (a session of a loopback app), joined over
HTTP as a script would."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest
from app_helpers import launch
from page_client import fn_index

from cnn.runs import RunConfig
from cnn.training import RunStatus

WAITING = 45
LONG = RunConfig("mnist", "mnist_fast", "mnist_fast", 500, 64, 0.01, "adam", 2000, 200)  # trains until stopped


@pytest.fixture()
def served(tmp_path, data_dir):
    demo, url = launch(tmp_path / "runs", "--max-runs", "1", "--data-dir", str(data_dir))
    yield demo, url
    demo.runs.stop()
    demo.runs.wait_idle(60)
    demo.close()


def join_and_listen(url: str, index: int, stop: threading.Event) -> None:
    """One person's /train job: joined, then its session's event stream read until `stop`."""
    session = uuid.uuid4().hex[:11]
    with httpx.Client(base_url=url, timeout=None) as http:
        data = ["mnist", "", "", "", 50, None, None, 600, 100, ""]  # (they wait: the holder never ends by itself)
        http.post("gradio_api/queue/join", json={"data": data, "fn_index": index, "session_hash": session})
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as s:
            for _ in s.iter_lines():
                if stop.is_set():
                    return


def until(cond, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_45_waiting_jobs_leave_predictions_answering_and_a_cancel_is_at_once(served, tmp_path):
    from gradio_client import Client, handle_file

    demo, url = served
    holder = demo.runs.start(LONG)  # trains until the end of the test (no page: nothing stops it unwatched)
    index, stop = fn_index(demo, "ui.api", "train"), threading.Event()
    threads = [threading.Thread(target=join_and_listen, args=(url, index, stop), daemon=True) for _ in range(WAITING)]
    for t in threads:
        t.start()
    try:
        assert until(lambda: len(demo.runs.active()) == WAITING + 1, 120), len(demo.runs.active())
        client = Client(url, verbose=False)
        digit = tmp_path / "seven.png"
        _seven(digit)
        t0 = time.time()
        probs = client.predict(handle_file(str(digit)), "", api_name="/predict_digit")
        assert max(probs, key=probs.get) == "7" and time.time() - t0 < 20  # answered, not frozen behind the 45
        job = client.submit(dataset="mnist", epochs=1, train_subset=600, api_name="/train")
        assert until(lambda: len(demo.runs.active()) == WAITING + 2, 30)
        mine = demo.runs.active()[-1]
        assert mine.status == RunStatus.QUEUED
        job.cancel()
        t0 = time.time()
        assert until(lambda: mine.done, 5) and mine.status == RunStatus.CANCELLED, mine.status
        assert time.time() - t0 < 1.5  # within about a second
        assert holder.status == RunStatus.TRAINING
    finally:
        stop.set()
        demo.runs.stop()


def _seven(path) -> None:
    """A drawn 7: a white stroke on black, as the canvas gives."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (280, 280), 0)
    d = ImageDraw.Draw(img)
    d.line([(60, 60), (220, 60), (120, 240)], fill=255, width=24)
    img.save(path)
