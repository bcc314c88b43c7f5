"""The app's named API endpoints through gradio_client: predictions, bad input with clear messages
(the app keeps serving), a fuzz test, upload limits, login, and who can reach the app."""

from __future__ import annotations

import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from app_helpers import ROOT, claimed_png, launch
from fuzz_inputs import _png, mutations, seven
from PIL import Image, ImageDraw

CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DIGITS = [str(i) for i in range(10)]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    demo, url = launch(tmp_path_factory.mktemp("runs"))
    from gradio_client import Client

    client = Client(url, verbose=False)
    yield demo, url, client
    demo.runs.stop()
    demo.runs.wait_idle(30)
    demo.close()


@pytest.fixture()
def client(served):
    return served[2]


@pytest.fixture()
def files(tmp_path):
    def write(name: str, data: bytes | Image.Image, **save) -> str:
        path = tmp_path / name
        if isinstance(data, Image.Image):
            data.save(path, **save)
        else:
            path.write_bytes(data)
        return str(path)

    return write


def call(client, endpoint: str, path: str):
    from gradio_client import handle_file

    return client.predict(handle_file(path), api_name=f"/{endpoint}")


def error_of(client, endpoint: str, path: str) -> str:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as info:
        call(client, endpoint, path)
    return str(info.value)


def assert_probabilities(result, classes):
    assert isinstance(result, dict) and sorted(result) == sorted(classes)
    assert abs(sum(result.values()) - 1) < 1e-3 and all(0 <= v <= 1 for v in result.values())


def top(result: dict) -> str:
    return max(result, key=result.get)


def digit_canvas(a: np.ndarray, k: int, offset: tuple[int, int], size=(900, 700)) -> Image.Image:
    """An MNIST digit enlarged k times, dark on white, somewhere on a big canvas."""
    big = Image.fromarray(255 - a, "L").resize((28 * k, 28 * k), Image.Resampling.BILINEAR)
    canvas = Image.new("L", size, 255)
    canvas.paste(big, offset)
    return canvas


def test_named_endpoints(client):
    named = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(named) == {
        "/predict_digit",
        "/predict_photo",
        "/train",
        "/attack_digit",
        "/attack_photo",
        "/embedding",
    }  # the page's own events are private
    params = {p["parameter_name"] for p in named["/train"]["parameters"]}
    assert {"dataset", "model", "layers", "recipe", "epochs", "batch_size", "lr", "train_subset"} <= params
    assert [p["parameter_name"] for p in named["/predict_digit"]["parameters"]] == ["image", "run"]
    for attack in ("/attack_digit", "/attack_photo"):  # Make it say N (ui/probe_api.py)
        assert [p["parameter_name"] for p in named[attack]["parameters"]] == ["image", "target", "epsilon", "run"]
    assert [p["parameter_name"] for p in named["/embedding"]["parameters"]] == ["run", "n", "method"]


def test_predict_digit_reads_mnist_digits(client, files, mnist):
    rng = np.random.default_rng(1)
    right = 0
    for i in range(12):
        a = mnist.test.images[i, 0].numpy()
        k = int(rng.integers(4, 20))
        im = digit_canvas(a, k, (int(rng.integers(0, 900 - 28 * k)), int(rng.integers(0, 700 - 28 * k))))
        result = call(client, "predict_digit", files(f"digit{i}.png", im))
        assert_probabilities(result, DIGITS)
        right += top(result) == str(int(mnist.test.labels[i]))
    assert right >= 11


def test_predict_photo_examples(client):
    examples = sorted((ROOT / "examples").glob("*.png"))
    assert len(examples) >= 4
    for path in examples:  # each file is named after its class: the shipped model reads every one right
        result = call(client, "predict_photo", str(path))
        assert_probabilities(result, CIFAR)
        assert top(result) == path.stem, (path.name, result)


GOOD_PNG = _png(Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)))
BAD_INPUTS = {
    "text.txt": (b"just some words\n", "text file, not an image"),
    "archive.zip": (b"PK\x03\x04" + bytes(200), "ZIP archive, not an image"),
    "truncated.png": (GOOD_PNG[: len(GOOD_PNG) // 2], "damaged or truncated"),
    "zero.png": (b"", r"empty \(0 bytes\)"),
    "pixel.png": (_png(Image.new("RGB", (1, 1), "red")), "only 1 x 1 pixels"),
    "bomb.png": (_png(Image.new("1", (10_000, 6_000), 0)), "over 16 megapixels are refused"),
    "claims.png": (claimed_png(10_000, 5_000), r"too large \(50 megapixels\); images over 16 megapixels"),
}


@pytest.mark.parametrize("endpoint", ["predict_digit", "predict_photo"])
@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gets_a_clear_message(client, files, endpoint, name):
    data, message = BAD_INPUTS[name]
    assert re.search(message, error_of(client, endpoint, files(name, data)))


def test_blank_and_dot_drawings(client, files):
    assert "blank" in error_of(client, "predict_digit", files("blank.png", Image.new("L", (600, 600), 255)))
    dot = Image.new("L", (600, 600), 255)
    ImageDraw.Draw(dot).ellipse([290, 290, 306, 306], fill=0)
    assert "only a dot" in error_of(client, "predict_digit", files("dot.png", dot))


def test_unusual_but_valid_images(client, files):
    im = seven()
    cases = {
        "cmyk.jpg": (im.convert("CMYK"), dict(format="JPEG")),
        "grey16.png": (Image.fromarray(np.asarray(im.convert("L"), np.uint16) * 257), {}),
        "palette.png": (im.convert("P"), {}),
        "alpha.png": (im.convert("RGBA"), {}),
    }
    for name, (image, save) in cases.items():
        assert top(call(client, "predict_digit", files(name, image, **save))) == "7", name
        assert_probabilities(call(client, "predict_photo", files("p" + name, image, **save)), CIFAR)
    # an animated GIF: its first frame is the digit
    gif = files(
        "anim.gif", im.convert("L"), save_all=True, append_images=[Image.new("L", im.size, 128)], duration=100, loop=0
    )
    assert top(call(client, "predict_digit", gif)) == "7"
    # a photo stored sideways with an EXIF orientation: classified upright
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = files("exif.jpg", im.transpose(Image.Transpose.ROTATE_90), format="JPEG", exif=exif.tobytes())
    assert top(call(client, "predict_digit", rotated)) == "7"


def test_app_keeps_serving_after_bad_input(client, files):
    for name, (data, _) in BAD_INPUTS.items():
        error_of(client, "predict_photo", files("again-" + name, data))  # an AppError with its message
    assert top(call(client, "predict_digit", files("ok.png", seven()))) == "7"


def test_fuzz_both_endpoints(served, tmp_path):
    """Random and mutated files over HTTP: each gets probabilities or a clear message, and the app
    goes on serving. (The 240 files of tests/test_ui_handlers.py's fuzz go to the same handlers in
    the test's process: 240 here took 25 s of the suite, nearly all of it Gradio's client and queue.)"""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    url = served[1]
    cases = mutations(1, 48)
    paths = []
    for i, data in enumerate(cases):
        p = tmp_path / f"fuzz{i}.img"
        p.write_bytes(data)
        paths.append(p)

    def one(args):
        i, path = args
        c = getattr(local, "client", None)
        if c is None:  # one client per thread: a Client is not meant to be shared across threads
            c = local.client = Client(url, verbose=False)
        endpoint = "/predict_digit" if i % 2 else "/predict_photo"
        try:
            result = c.predict(handle_file(str(path)), api_name=endpoint)
        except AppError as exc:
            return "error", str(exc)
        return "ok", result

    local = threading.local()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, enumerate(paths)))
    for (kind, value), path in zip(results, paths):
        if kind == "ok":
            assert isinstance(value, dict) and len(value) == 10, path
        else:
            assert len(value) > 20 and "Something went wrong" not in value, (path, value)
    assert sum(kind == "error" for kind, _ in results) >= 12  # most random bytes are refused
    assert top(call(served[2], "predict_digit", _save_seven(tmp_path))) == "7"  # still serving


def _save_seven(tmp_path: Path) -> str:
    path = tmp_path / "seven.png"
    seven().save(path)
    return str(path)


def test_upload_size_limit(served, files):
    import httpx

    url, client = served[1], served[2]
    data = os.urandom(21 * 2**20)  # over the 20 MB limit
    r = httpx.post(url + "gradio_api/upload", files={"files": ("big.png", data)}, timeout=60)
    assert r.status_code == 413 and "maximum allowed size" in r.text  # refused by the server
    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # and by the client
        call(client, "predict_photo", files("big.png", data))
    assert top(call(client, "predict_digit", files("after.png", seven()))) == "7"


def test_uploads_are_not_kept(tmp_path, monkeypatch):
    """Uploads leave Gradio's cache --upload-ttl seconds after they arrive (120 by default)."""
    from gradio_client import Client

    upload_dir = tmp_path / "uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(upload_dir))
    demo, url = launch(tmp_path / "runs", "--upload-ttl", "2")
    try:
        client = Client(url, verbose=False)
        photo, text = tmp_path / "private-photo-qzx.png", tmp_path / "private-text-qzx.png"
        seven().save(photo)
        text.write_bytes(b"not an image")
        call(client, "predict_photo", str(photo))
        error_of(client, "predict_photo", str(text))
        assert len(list(upload_dir.rglob("private-*-qzx.png"))) == 2
        deadline = time.time() + 15
        while list(upload_dir.rglob("private-*-qzx.png")) and time.time() < deadline:
            time.sleep(0.5)
        assert not list(upload_dir.rglob("private-*-qzx.png"))
    finally:
        demo.close()


def test_predictions_answer_while_training(served, files):
    from cnn.runs import RunConfig

    demo, _, client = served
    run = demo.runs.start(RunConfig("mnist", "mnist_fast", "mnist_fast", 20, 64, 0.05, "sgd", 20000, 500))
    try:
        while not run.steps:
            run.wait(run.version, 1)
            assert not run.done, run.message
        path = files("during.png", seven())
        times = []
        for _ in range(10):
            t = time.perf_counter()
            assert top(call(client, "predict_digit", path)) == "7"
            times.append(time.perf_counter() - t)
        assert not run.done  # still training all along
        assert sorted(times)[len(times) // 2] < 2.0, times
    finally:
        demo.runs.stop()
        demo.runs.wait_idle(30)
    assert run.status == "stopped"


def test_a_request_cannot_read_server_files(served):
    """A client naming a server path instead of uploading a file gets an error, not a prediction:
    Gradio only hands over files that were uploaded."""
    import httpx

    url = served[1]
    for path in ["/etc/passwd", str(ROOT / "examples" / "truck.png")]:
        r = httpx.post(
            url + "gradio_api/call/predict_photo",
            json={"data": [{"path": path, "meta": {"_type": "gradio.FileData"}}, ""]},
            timeout=30,
        )
        event = r.json()["event_id"]
        out = httpx.get(url + f"gradio_api/call/predict_photo/{event}", timeout=30).text
        assert "event: error" in out and "truck" not in out and "root:" not in out, out
