"""A checkpoint, a folder or a layers JSON cannot make the server allocate what the limits do not
allow: crafted 1 KB checkpoints that name a huge design, input shape or class count are refused
with a message, quickly, before anything is allocated (measured in a fresh process by its peak
memory, resource.getrusage), wherever a checkpoint builds a model (load, prediction, fine-tuning,
which continuing uses, and import). A checkpoint's tensors are checked by the shapes its header declares before they
are read. A layers JSON over the stated size is refused unread (file, text, the editor's box)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from app_helpers import ROOT
from safetensors.torch import save_file

from cnn import checkpoint as ckpt
from cnn.checkpoint import load_checkpoint, read_metadata
from cnn.data import load_image_folder
from cnn.errors import CheckpointError, ConfigError
from cnn.limits import MAX_LAYERS_JSON_BYTES
from cnn.models.design import load_design_file, load_layers, parse
from cnn.transfer import starting_weights
from ui import design_editor

MNIST = ROOT / "checkpoints" / "mnist.safetensors"
NORM = {"mean": [0.5], "std": [0.5]}
HUGE_LINEAR = [{"layer": "Flatten"}, {"layer": "Linear", "out_features": 65536}, {"layer": "Linear"}]
CRAFTED = {  # name -> (metadata, what the refusal says)
    "input_shape": (
        {"architecture": "seed000_net", "input_shape": [1, 100_000, 100_000]},
        r"takes 100000 x 100000 images; sides from 1 to 256 pixels are accepted",
    ),
    "classes": ({"architecture": "mnist_fast", "classes": [str(i) for i in range(5000)]}, "at most 1,000 classes"),
    "ready_made": (
        {"architecture": "seed004_cnn", "input_shape": [3, 256, 256]},
        "seed004_cnn model for 3 x 256 x 256 images and 10 classes has 487,950,346 parameters; the limit is 40,000,000",
    ),
    "design": (
        {"architecture": "design", "input_shape": [3, 32, 32], "design": HUGE_LINEAR},
        r"holds a design that cannot be built: The design is too big: 202,047,498 parameters; the limit is 10,000,000",
    ),
    "design_memory": (
        {
            "architecture": "design",
            "input_shape": [3, 256, 256],
            "design": [{"layer": "Conv2d", "out_channels": 4096, "kernel_size": 1}] * 3
            + HUGE_LINEAR[:1]
            + [{"layer": "Linear"}],
        },
        "The design is too big",
    ),
}


def crafted(path: Path, **meta) -> Path:
    """A 1 KB checkpoint whose metadata says `meta` (and one tiny tensor)."""
    full = {"architecture": "mnist_fast", "classes": [str(i) for i in range(10)], "input_shape": [1, 28, 28]}
    full.update(normalization=NORM, **meta)
    save_file({"x": torch.zeros(1)}, str(path), metadata={ckpt.META_KEY: json.dumps(full)})
    return path


@pytest.mark.parametrize("case", list(CRAFTED))
def test_a_crafted_checkpoint_is_refused_with_a_message(tmp_path, case):
    meta, message = CRAFTED[case]
    path = crafted(tmp_path / f"{case}.safetensors", **meta)
    assert path.stat().st_size < 70_000  # 5000 class names take some; the others are under 1 KB
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


PROBE = """
import json, resource, sys, tempfile, time
from cnn.checkpoint import load_checkpoint
from cnn.run_index import import_checkpoint
from cnn.serving.predictor import Predictor
from cnn.transfer import starting_weights
from ui import design_editor
out = {}
for path in sys.argv[1:]:
    for route, call in (("load", load_checkpoint), ("predict", Predictor.from_checkpoint),
                        ("fine-tune", lambda p: starting_weights(p, channels=1, num_classes=10, image_size=28)),
                        ("import", lambda p: import_checkpoint(p, tempfile.mkdtemp()))):
        before, t = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
        try:
            call(path)
            said = None
        except Exception as exc:
            said = f"{type(exc).__name__}: {exc}"
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        out[f"{path} {route}"] = [said, time.perf_counter() - t, grew]
print(json.dumps(out))
"""


def test_crafted_checkpoints_allocate_nothing_on_any_route_in_a_fresh_process(tmp_path):
    """In a process of its own (its peak memory is then this test's alone), every crafted checkpoint
    is refused by loading, the Predictor, fine-tuning and the Runs tab's import, each within a
    second and without its peak memory growing 100 MB (the design alone would take 800 MB, the
    input shape 40 GB)."""
    paths = [str(crafted(tmp_path / f"{c}.safetensors", **CRAFTED[c][0])) for c in ("input_shape", "design")]
    paths.append(str(crafted(tmp_path / "ready_made.safetensors", **CRAFTED["ready_made"][0])))
    run = subprocess.run([sys.executable, "-c", PROBE, *paths], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout.splitlines()[-1])
    assert len(results) == 12
    for where, (said, seconds, grew_mb) in results.items():
        assert said and said.startswith(("CheckpointError", "ConfigError")), (where, said)
        assert seconds < 1.0 and grew_mb < 100, (where, seconds, grew_mb)


def test_a_bad_input_shape_or_classes_in_metadata_is_refused_by_every_reader(tmp_path):
    for meta, message in (
        ({"input_shape": [1, 28]}, "not \\[channels, height, width\\]"),
        ({"input_shape": [1, "28", 28]}, "not \\[channels, height, width\\]"),
        ({"input_shape": [9, 28, 28]}, "9-channel images; 1 to 4 channels"),
        ({"classes": "0123456789"}, "as a list of names"),
    ):
        with pytest.raises(CheckpointError, match=message):
            read_metadata(crafted(tmp_path / "m.safetensors", **meta))


def test_tensors_are_checked_by_their_declared_shapes_before_they_are_read(tmp_path, monkeypatch):
    state = {k: v for k, v in load_checkpoint(MNIST)[0].state_dict().items()}
    meta = read_metadata(MNIST)
    extra = tmp_path / "extra.safetensors"
    save_file({**state, "evil": torch.zeros(1024, 1024)}, str(extra), metadata={ckpt.META_KEY: json.dumps(meta)})
    wrong = tmp_path / "wrong.safetensors"
    first = next(iter(state))
    save_file({**state, first: torch.zeros(64, 64)}, str(wrong), metadata={ckpt.META_KEY: json.dumps(meta)})

    def never(*a, **k):
        raise AssertionError("the weights were read before their shapes were checked")

    monkeypatch.setattr("safetensors.torch.load_file", never)
    with pytest.raises(CheckpointError, match="unexpected evil"):
        load_checkpoint(extra)
    with pytest.raises(CheckpointError, match=rf"{first} is \(64, 64\)"):
        load_checkpoint(wrong)


def test_a_header_over_the_limit_is_refused_unread(tmp_path):
    path = crafted(tmp_path / "padded.safetensors", padding="x" * (ckpt.MAX_HEADER_BYTES + 10))
    with pytest.raises(CheckpointError, match="header is 2.0 MB; .* at most 2 MB. It is refused unread"):
        read_metadata(path)


def test_fine_tuning_a_shipped_checkpoint_for_too_many_classes_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="5,000 classes; 1 to 1,000"):
        starting_weights(MNIST, channels=1, num_classes=5000, image_size=28)
    assert starting_weights(MNIST, channels=1, num_classes=3, image_size=28).state  # within: it works


def test_an_image_folder_at_a_huge_size_is_refused_before_decoding(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "x.png").write_bytes(b"not decoded")
    with pytest.raises(ConfigError, match="100000 x 100000 images; sides from 1 to 256"):
        load_image_folder(tmp_path, image_size=100_000)


def test_a_layers_json_over_the_limit_is_refused_unread(tmp_path):
    big = json.dumps([{"layer": "ReLU"}] * 20_000)
    assert len(big) > MAX_LAYERS_JSON_BYTES
    for given in (big, big.encode()):
        with pytest.raises(ConfigError, match=f"the limit is {MAX_LAYERS_JSON_BYTES:,}. It is refused unread"):
            load_layers(given)
    with pytest.raises(ConfigError, match="the limit is"):
        parse(big, (1, 28, 28), 10)
    wide = "[" + " " * (MAX_LAYERS_JSON_BYTES // 2) + '{"layer": "ReLU"}, "' + "é" * (MAX_LAYERS_JSON_BYTES // 3) + '"]'
    with pytest.raises(ConfigError, match="bytes; the limit is"):  # few characters, many bytes
        load_layers(wide)
    path = tmp_path / "big.json"
    path.write_text(big)
    with pytest.raises(ConfigError, match=f"big.json is {path.stat().st_size:,} bytes; .* refused unread"):
        load_design_file(path)


def test_the_cli_and_the_editor_refuse_an_oversized_layers_json(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"layer": "ReLU"}] * 20_000))
    run = subprocess.run(
        [sys.executable, "-m", "cnn.train", "--layers", str(path), "--epochs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode != 0 and "refused unread" in run.stderr, run.stderr[-1000:]

    out = design_editor.on_text([], None, path.read_text(), "MNIST", 64)
    assert any("refused unread" in str(x) for x in out)  # the message line; nothing else changes


def test_every_ready_made_model_still_builds_at_the_folder_default_size():
    from cnn.models import MODELS, build_model, count_parameters

    sizes = {name: count_parameters(build_model(name, 3, 10, 64)) for name in MODELS}
    assert max(sizes.values()) == sizes["seed004_cnn"] > 20_000_000  # over a design's limit, within this one
