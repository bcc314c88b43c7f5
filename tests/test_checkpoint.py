"""Checkpoints: round trip with metadata, atomic writes, refusal of one that does not fit."""

import json

import pytest
import torch
from safetensors.torch import save_file

from cnn.checkpoint import META_KEY, load_checkpoint, read_metadata, rewrite_metadata, save_checkpoint
from cnn.errors import CheckpointError
from cnn.training import train
from cnn.training.recipes import get_recipe


@pytest.fixture(scope="module")
def trained(mnist):
    from cnn.data import Dataset

    small = Dataset("mnist", mnist.classes, mnist.train.subset(3000), mnist.test.subset(500))
    return list(train(get_recipe("mnist_fast").replace(epochs=0.5), small, device="cpu"))[-1]


def test_round_trip_keeps_weights_predictions_and_metadata(trained, tmp_path):
    path = save_checkpoint(trained.model, trained.metadata, tmp_path / "m.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left
    model, meta = load_checkpoint(path)
    assert meta == json.loads(json.dumps(trained.metadata))
    for k, v in trained.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    x = torch.randn(8, 1, 28, 28)
    trained.model.eval()
    assert torch.equal(model(x), trained.model(x)) and not model.training
    for key in (
        "architecture",
        "dataset",
        "classes",
        "normalization",
        "input_shape",
        "test_accuracy",
        "recipe",
        "date",
    ):
        assert key in read_metadata(path)


def test_mismatched_weights_are_refused_with_the_layer_named(trained, tmp_path):
    state = {k: v.clone() for k, v in trained.model.state_dict().items()}
    state["head.weight"] = torch.zeros(10, 64)
    meta = dict(trained.metadata)
    save_file(state, str(tmp_path / "bad.safetensors"), metadata={META_KEY: json.dumps(meta)})
    with pytest.raises(CheckpointError, match=r"head.weight is \(10, 64\) but mnist_fast needs \(10, 128\)"):
        load_checkpoint(tmp_path / "bad.safetensors")


def test_wrong_expectations_are_refused(trained, tmp_path):
    path = save_checkpoint(trained.model, trained.metadata, tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match="holds a mnist_fast model, not the cifar10_small"):
        load_checkpoint(path, expect_architecture="cifar10_small")
    with pytest.raises(CheckpointError, match="has 10 classes, but 2 are needed"):
        load_checkpoint(path, expect_classes=2)


def test_rewrite_metadata_keeps_the_weights(trained, tmp_path):
    path = save_checkpoint(trained.model, trained.metadata, tmp_path / "m.safetensors")
    rewrite_metadata(path, dict(trained.metadata, temperature=0.5))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    model, meta = load_checkpoint(path)
    assert meta["temperature"] == 0.5 and meta["classes"] == trained.metadata["classes"]
    for k, v in trained.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    with pytest.raises(ValueError, match="lacks"):
        rewrite_metadata(path, {"architecture": "mnist_fast"})


def test_a_header_length_that_starts_like_a_pickle_is_still_read(trained, tmp_path):
    """A safetensors file starts with its header's length; a length whose low byte is 0x80 (as a
    pickle starts) once made a rewritten checkpoint be refused as a pickle."""
    path = tmp_path / "m.safetensors"
    for pad in range(256):
        save_checkpoint(trained.model, dict(trained.metadata, pad="x" * pad), path)
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert read_metadata(path)["pad"] and load_checkpoint(path)[1]["architecture"] == "mnist_fast"
