"""Issue 36: a file the app offers for download stays downloadable after the upload time-to-live
(here shortened to 2 s with --upload-ttl, for a test that would otherwise sleep 5 minutes): the
checkpoint /train returns, and the Train tab's download button in a real browser. Uploads still go."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from page_helpers import app_page, open_tab
from test_browser import _box, _quick_run

TTL = 2
PAST_TTL = 3 * TTL + 2  # Gradio's cache sweep runs every TTL/2 s: two sweeps and more have gone by


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The app with the short time-to-live, its uploads in a folder of the test's, and a page on it."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("uploads")))
    try:
        with app_page(tmp_path_factory, flags=("--upload-ttl", str(TTL))) as p:
            yield p
    finally:
        mp.undo()


def test_downloads_outlive_the_upload_ttl_and_uploads_still_go(page, tmp_path):
    """The checkpoint /train returns and the Train tab's download button, both past the time-to-live
    (one wait for both: each wait is 8 s of the suite); an upload made meanwhile is gone by then."""
    from gradio_client import Client

    demo, url = page.demo, page.app_url
    client = Client(url, verbose=False, download_files=False)
    tiny = dict(dataset="mnist", model="mnist_fast", epochs=1, batch_size=64, train_subset=1000, test_subset=100)
    result, checkpoint = client.predict(**tiny, api_name="/train")
    from_api = (demo.runs.runs_dir / result["checkpoint"]).read_bytes()
    up = httpx.post(url + "gradio_api/upload", files={"files": ("private-up.png", b"x" * 100)}, timeout=30)
    uploaded = Path(up.json()[0])
    assert uploaded.is_file()
    open_tab(page, "Train")
    _quick_run(page, "1000", "100")
    _box(page, "epochs").fill("1")
    page.locator("#start-btn").click()
    button = page.locator("#train-get-checkpoint")
    button.wait_for(state="visible", timeout=180_000)
    time.sleep(PAST_TTL)
    got = httpx.get(checkpoint["url"], timeout=30)
    assert got.status_code == 200, got.text
    assert got.content == from_api
    assert not uploaded.exists()  # while uploads still go after their time
    with page.expect_download() as d:
        button.click()
    saved = tmp_path / "got.safetensors"
    d.value.save_as(saved)
    assert d.value.failure() is None
    assert saved.read_bytes() == page.demo.runs.current.checkpoint.read_bytes()
