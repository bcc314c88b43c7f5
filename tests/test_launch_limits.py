"""The app's flags for what a class may send: --queue-size (Gradio's queue max_size) and
--max-image-megapixels (cnn.limits), on a served app called over HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from app_helpers import launch
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

from cnn import limits
from ui import launch as ui_launch


def test_the_defaults_fit_a_class():
    args = ui_launch.parse_args([])
    assert args.queue_size == ui_launch.QUEUE_SIZE == 100
    assert args.max_image_megapixels == 16


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One app for the module's tests (the first changes nothing; the second fills its queue last)."""
    before = limits.MAX_IMAGE_PIXELS
    demo, url = launch(tmp_path_factory.mktemp("runs"), "--queue-size", "1", "--max-image-megapixels", "2")
    try:
        yield demo, url
    finally:
        demo.close()
        limits.set_max_image_pixels(before)


def seven(size: tuple[int, int]) -> Image.Image:
    im = Image.new("L", size, 255)
    w, h = size
    ImageDraw.Draw(im).line([(w // 4, h // 5), (3 * w // 4, h // 5), (2 * w // 5, 4 * h // 5)], fill=0, width=w // 12)
    return im


def test_the_flags_set_the_queue_size_and_the_image_limit(served, tmp_path):
    demo, url = served
    assert demo._queue.max_size == 1
    assert limits.MAX_IMAGE_PIXELS == 2_000_000
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    seven((2_000, 1_500)).save(big)  # 3 megapixels
    seven((400, 400)).save(small)
    client = Client(url, verbose=False)
    with pytest.raises(Exception, match="images over 2 megapixels are refused before they are decoded"):
        client.predict(handle_file(str(big)), api_name="/predict_digit")
    probs = client.predict(handle_file(str(small)), api_name="/predict_digit")
    assert max(probs, key=probs.get) == "7"


def test_a_full_queue_refuses_more_events(served, tmp_path):
    """With one waiting place, predictions sent at once find it taken: refused, not kept."""
    _, url = served
    small = tmp_path / "small.png"
    seven((400, 400)).save(small)
    client = Client(url, verbose=False)

    def one(_):
        try:
            client.predict(handle_file(str(small)), api_name="/predict_digit")
            return "ok"
        except Exception as exc:
            return str(exc)

    with ThreadPoolExecutor(24) as pool:
        said = list(pool.map(one, range(48)))
    assert "ok" in said
    assert any("queue is full" in s.lower() for s in said), set(said)
