"""Images over the stated pixel limit (cnn.limits, 16 megapixels by default) are refused from their
header, before they are decoded, on every route that takes an image: an upload, a drawing's layers
(the Sketchpad), a project's zip and an image folder. A crafted PNG whose header claims 50
megapixels is 57 bytes on disk; a real 20-megapixel PNG decodes, and is refused all the same."""

from __future__ import annotations

import io
import resource
import struct
import time
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from app_helpers import claimed_png
from gradio.components.image_editor import EditorData
from gradio.data_classes import FileData
from PIL import Image, ImageDraw

from cnn import limits
from cnn.data import load_image_folder
from cnn.errors import ImageError
from cnn.projects import Project, import_zip
from cnn.serving.decode import load_image
from ui.uploads import checked_editor

CLAIMS_50MP = claimed_png(10_000, 5_000)


def real_png(width: int, height: int) -> bytes:
    """A real, decodable PNG (a gradient with a circle), small on disk because it compresses well."""
    a = np.arange(width, dtype=np.uint8)[None, :] + np.arange(height, dtype=np.uint8)[:, None]  # wraps at 256
    im = Image.fromarray(a, "L")
    ImageDraw.Draw(im).ellipse([width // 4, height // 4, width // 2, height // 2], fill=0)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture()
def limit_12mp():
    before = limits.MAX_IMAGE_PIXELS
    limits.set_max_image_pixels(12_000_000)
    yield
    limits.set_max_image_pixels(before)


def test_the_default_limit_is_16_megapixels_and_pil_follows_it():
    assert limits.MAX_IMAGE_PIXELS == 16_000_000
    assert 2 * Image.MAX_IMAGE_PIXELS == limits.MAX_IMAGE_PIXELS  # PIL raises above twice its setting
    with pytest.raises(Image.DecompressionBombError):  # any Image.open in the process (Gradio's too)
        Image.open(io.BytesIO(CLAIMS_50MP))


def test_a_crafted_50_megapixel_header_is_refused_unread_quickly_and_without_memory(tmp_path):
    assert len(CLAIMS_50MP) < 100
    path = tmp_path / "claims.png"
    path.write_bytes(CLAIMS_50MP)
    before, t = peak_rss_mb(), time.perf_counter()
    for source in (CLAIMS_50MP, str(path)):
        with pytest.raises(ImageError, match=r"\(50 megapixels\); images over 16 megapixels are refused before"):
            load_image(source)
    assert time.perf_counter() - t < 1.0
    assert peak_rss_mb() - before < 50  # decoding it would take 150 MB


def test_a_real_20_megapixel_image_is_refused_and_one_under_the_limit_decodes(tmp_path):
    big = real_png(5_000, 4_000)
    assert struct.unpack(">II", big[16:24]) == (5_000, 4_000) and len(big) > 50_000  # its IHDR, and real data
    with pytest.raises(ImageError, match=r"too large \(20 megapixels\); images over 16 megapixels are refused before"):
        load_image(big)
    assert load_image(real_png(4_000, 3_000)).size == (4_000, 3_000)  # 12 megapixels: accepted


def test_the_limit_can_be_changed_and_is_named_in_the_message(limit_12mp):
    assert Image.MAX_IMAGE_PIXELS == 6_000_000
    with pytest.raises(ImageError, match="over 12 megapixels are refused"):
        load_image(real_png(4_000, 3_100))
    assert load_image(real_png(4_000, 3_000)).size == (4_000, 3_000)


def test_a_drawing_with_an_oversized_layer_is_refused_before_gradio_decodes_it(tmp_path):
    path = tmp_path / "layer.png"
    path.write_bytes(CLAIMS_50MP)
    with gr.Blocks():
        pad = checked_editor(gr.Sketchpad(type="pil"))
    with pytest.raises(gr.Error, match="The drawing is too large.*over 16 megapixels"):
        pad.preprocess(EditorData(layers=[FileData(path=str(path))]))
    with pytest.raises(gr.Error, match="over 16 megapixels"):
        pad.preprocess(EditorData(composite=FileData(path=str(path))))
    ok = tmp_path / "ok.png"
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(ok)
    assert pad.preprocess(EditorData(composite=FileData(path=str(ok))))["composite"].size == (64, 64)


def test_a_project_zip_skips_an_oversized_image_and_says_why(tmp_path):
    project = Project.create("Shapes", "photos", data_dir=tmp_path)
    photo = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(photo, "PNG")
    z = tmp_path / "p.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("cat/a.png", photo.getvalue())
        zf.writestr("cat/huge.png", CLAIMS_50MP)
        zf.writestr("dog/b.png", photo.getvalue())
    r = import_zip(project, z)
    assert r.added == 2
    assert len(r.skipped) == 1 and "huge.png" in r.skipped[0] and "over 16 megapixels" in r.skipped[0]


def test_an_image_folder_skips_an_oversized_image(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "folder"
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for k in range(3):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / cls / f"{k}.png")
    Path(root / "a" / "huge.png").write_bytes(CLAIMS_50MP)
    ds = load_image_folder(root, image_size=32)
    assert any(s.endswith("huge.png") for s in ds.skipped)
    assert len(ds.train) + len(ds.test) == 6
