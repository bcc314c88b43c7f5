"""Issue 33 parts 2 and 3, without the page: what a channel looks for (feature visualisation and the
test images that excite it most) and the map of a model's penultimate features, on the shipped
MNIST model and real test digits."""

from pathlib import Path

import numpy as np
import pytest
import torch

from cnn.data import load_dataset
from cnn.errors import CnnError
from cnn.serving import embedding
from cnn.serving.feature_vis import LayerProbe, conv_layers, top_images, visualise
from cnn.serving.predictor import Predictor

MNIST = str(Path(__file__).resolve().parents[1] / "checkpoints" / "mnist.safetensors")


@pytest.fixture(scope="module")
def digits():
    return Predictor.from_checkpoint(MNIST, backend="pytorch")


@pytest.fixture(scope="module")
def test_digits(data_dir):
    return load_dataset("mnist", data_dir, train=False).test.subset(1000, seed=0)


def test_each_channel_gets_its_own_picture(digits):
    layer = conv_layers(digits.model)[1][0]
    pics = visualise(digits, layer, [0, 1, 2], steps=24)
    assert pics.shape == (3, *digits.input_shape) and pics.dtype == torch.uint8
    assert (pics[0].float() - pics[1].float()).abs().mean() > 20  # two channels, two different pictures
    act = LayerProbe(digits, layer)(pics.float() / 255).mean(dim=(2, 3))
    # each picture excites its own channel more than the other channels' pictures do
    for k in range(3):
        assert act[k, k] > max(act[j, k] for j in range(3) if j != k)
    assert torch.equal(pics, visualise(digits, layer, [0, 1, 2], steps=24))  # a fixed seed: the same pictures


def test_channels_out_of_range_are_refused(digits):
    layer, n = conv_layers(digits.model)[0]
    with pytest.raises(CnnError, match=f"between 0 and {n - 1}"):
        visualise(digits, layer, [n], steps=1)
    with pytest.raises(CnnError, match="no convolution layer"):
        visualise(digits, "head", [0], steps=1)


def test_top_images_excite_their_channel_most(digits, test_digits):
    layer = conv_layers(digits.model)[2][0]
    top = top_images(digits, layer, test_digits.images, k=9)
    assert top.shape == (192, 9)  # mnist_mid's last block: 192 channels
    means = LayerProbe(digits, layer)(test_digits.images.float() / 255).mean(dim=(2, 3))
    for ch in (0, 5, 77):
        assert means[top[ch], ch].min() >= means[:, ch].median()
        assert means[top[ch, 0], ch] == means[:, ch].max()


def test_map_coordinates_are_stable_for_a_seed(digits, test_digits, tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path))
    feats, preds = embedding.penultimate(digits, test_digits.images)
    assert feats.shape == (1000, 192)
    assert (preds == test_digits.labels.numpy()).mean() > 0.98  # the model's own predictions
    a = embedding.project(feats, "pca", seed=3)
    assert np.array_equal(a, embedding.project(feats, "pca", seed=3))
    made = embedding.feature_map(MNIST, digits, test_digits, "mnist", "pca", seed=3)
    assert np.allclose(made.coords, a, atol=1e-4)
    embedding._MEMORY.clear()  # the next one comes from the disk cache, keyed by the file's hash
    again = embedding.feature_map(MNIST, digits, test_digits, "mnist", "pca", seed=3)
    assert np.array_equal(again.coords, made.coords) and np.array_equal(again.predictions, made.predictions)
    assert len(list((tmp_path / "maps").glob("*.npz"))) == 1


def test_tsne_map_keeps_the_digits_apart(digits, test_digits):
    feats, _ = embedding.penultimate(digits, test_digits.images)
    labels = test_digits.labels.numpy()
    coords = embedding.project(feats, "tsne", seed=0)
    assert embedding.knn_agreement(coords, labels) >= 0.9
    shuffled = np.random.default_rng(0).permutation(labels)
    assert embedding.knn_agreement(coords, shuffled) < 0.3  # the measure can fail


def test_unknown_method_is_refused():
    with pytest.raises(CnnError, match="pca, tsne"):
        embedding.project(np.zeros((10, 4), np.float32), "umap")
