"""Issue 33 parts 2 and 3 on the page's handlers and the API: the Inside tab's channel panel, the Runs
tab's map (a point clicked opens its prediction and Grad-CAM), /embedding over gradio_client, and
that another person's run stays theirs."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest
from app_helpers import checkpoint, launch

from cnn.run_index import import_checkpoint
from cnn.runs import RunManager
from ui import channels_view, map_api, map_view
from ui.common import AppContext

N = 300  # test images on a map here: the wiring, not the speed (bench/feature_map_speed.py)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture()
def both(tmp_path, data_dir):
    """A context with logins, ada's digit run, and the two users' requests."""
    ctx = AppContext(
        RunManager(tmp_path / "runs", data_dir, device="cpu"),
        str(checkpoint("mnist")),
        str(checkpoint("cifar10")),
        logins=True,
    )
    folder = tmp_path / "runs" / "users" / "ada"
    folder.mkdir(parents=True)
    run = import_checkpoint(checkpoint("mnist"), folder, "ada-digits.safetensors").stem
    return ctx, run, SimpleNamespace(username="ada"), SimpleNamespace(username="bob")


def named(names, got) -> dict:
    return dict(zip(names, got, strict=True))


def test_the_channel_panel_shows_a_picture_and_nine_test_images_per_channel(both):
    ctx = both[0]
    layer = channels_view.layer_choices(ctx, "Drawing", ctx.draw_checkpoint, None).value
    out = named(channels_view.OUTPUTS, channels_view.show(ctx, "Drawing", layer, "3, 7-8", ctx.draw_checkpoint, None))
    assert [caption for _, caption in out["gallery"]] == ["channel 3", "channel 7", "channel 8"]
    pic = out["gallery"][0][0]
    assert pic.size == (2 * channels_view.CELL + 8, channels_view.CELL)
    assert "9 of 1,000 mnist test images" in out["note"]


@pytest.mark.parametrize(
    "text, message",
    [("0-100000000", "outside"), ("0-63", "at most 16"), ("seven", "not a channel number"), ("-3", "not a channel")],
)
def test_channel_choices_out_of_bounds_are_refused_before_anything_is_made(text, message):
    with pytest.raises(Exception, match=message):
        channels_view.parse_channels(text, 64)


def test_the_map_rings_the_mistakes_and_a_click_opens_the_point(both):
    ctx, run, ada, _ = both
    out = named(map_view.OUTPUTS, map_view.draw_map(ctx, run, "PCA (fast)", N, ada))
    m, split, _, _ = map_view.map_of(ctx, run, N, "pca", ada)
    assert out["map"].count("<circle") == N
    assert out["map"].count('stroke="#000"') == int(m.mistakes.sum())
    circles = out["map"].split("<circle")[1:]  # painted in this order: the mistakes last, on top
    assert all('stroke="#000"' in c for c in circles[len(circles) - int(m.mistakes.sum()) :])
    assert sorted(int(c.split('data-i="')[1].split('"')[0]) for c in circles) == list(range(N))
    assert "data:image/png;base64," in out["map"]  # the hover images, one sheet
    wrong = int(m.mistakes.nonzero()[0][0]) if m.mistakes.any() else 0
    clicked = named(map_view.CLICKED, map_view.open_point(ctx, run, "PCA (fast)", N, SimpleNamespace(index=wrong), ada))
    assert f"Test image #{wrong}: a **{m.classes[m.labels[wrong]]}**" in clicked["about"]
    assert clicked["point"].size == (224, 224) and clicked["cam"].size == (224, 224)
    with pytest.raises(gr.Error, match="Click a point"):
        map_view.open_point(ctx, run, "PCA (fast)", N, SimpleNamespace(index=N), ada)


def test_bob_cannot_map_adas_run(both):
    ctx, run, ada, bob = both
    with pytest.raises(gr.Error, match=f"The run {run} is not there"):
        map_view.draw_map(ctx, run, "PCA (fast)", N, bob)
    with pytest.raises(gr.Error, match=f"The run {run} is not there"):
        map_api.embedding(ctx, run, N, "pca", bob)
    assert map_api.embedding(ctx, run, N, "pca", ada)["n"] == N


@pytest.mark.parametrize(
    "n, method, message",
    [
        (10**9, "pca", "from 10 to 5,000"),
        (5, "pca", "from 10 to"),
        ("many", "pca", "whole number"),
        (100, "umap", "one of pca, tsne"),
    ],
)
def test_embedding_bounds_its_request(both, n, method, message):
    ctx, run, ada, _ = both
    with pytest.raises(gr.Error, match=message):
        map_api.embedding(ctx, run, n, method, ada)


def test_embedding_over_gradio_client(tmp_path_factory, data_dir):
    demo, url = launch(tmp_path_factory.mktemp("runs"), "--data-dir", str(data_dir))
    try:
        from gradio_client import Client

        client = Client(url, verbose=False)
        got = client.predict(run="shipped/mnist", n=N, method="pca", api_name="/embedding")
        assert got["run"] == "shipped/mnist" and got["n"] == N and len(got["coords"]) == N
        assert got["classes"] == [str(i) for i in range(10)]
        right = sum(a == b for a, b in zip(got["labels"], got["predictions"]))
        assert right / N > 0.97  # the shipped model's own predictions, not the labels copied
        assert got["knn_agreement"] > 0.5
        again = client.predict(run="", n=N, method="pca", api_name="/embedding")  # '' is the shipped digit model
        assert again["coords"] == got["coords"]
        with pytest.raises(Exception, match="from 10 to 5,000"):
            client.predict(run="shipped/mnist", n=100000, method="pca", api_name="/embedding")
    finally:
        demo.runs.stop()
        demo.runs.wait_idle(30)
        demo.close()
