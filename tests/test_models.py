"""Every seed model is exactly as its tutorial wrote it: layers, flattened sizes, parameter counts."""

import subprocess
import sys

import pytest
import torch

from cnn.models import MODELS, build_model, count_parameters, get_spec
from cnn.models.summary import summarize

# Parameter counts worked out by hand from SEEDS.md (weights + biases of each layer).
EXPECTED_PARAMS = {
    # conv 1*32*9+32, conv 32*64*9+64, fc 9216*128+128, fc 128*10+10
    "seed000_net": 320 + 18_496 + 1_179_776 + 1_290,
    # conv 1*32*25+32, fc 4608*128+128, fc 128*10+10
    "seed000_keras": 832 + 589_952 + 1_290,
    # convs 3-32, 32-32, 32-64, 64-64; fc 1600*128+128; fc 128*10+10
    "seed001_convnet": 896 + 9_248 + 18_496 + 36_928 + 204_928 + 1_290,
    # conv 1*4*9+4, BN 2*4, conv 4*4*9+4, BN 2*4, fc 196*10+10
    "seed002_net": 40 + 8 + 148 + 8 + 1_970,
    # the tutorial's Keras summary says 1,198
    "seed002_keras": 1_198,
    # conv 1*3*9+3, conv 3*6*9+6, fc 294*10+10
    "seed003_cnn": 30 + 168 + 2_950,
    # convs 3-32, 32-64, 64-128 (3x3); fc 2048*512+512, 512*64+64, 64*10+10
    "seed004_simplecnn": 896 + 18_496 + 73_856 + 1_049_088 + 32_832 + 650,
    # convs 1-16, 16-32, 32-64, 64-128 with BN; fc 2048*1024+1024, 1024*128+128, 128*10+10
    "seed004_cnn": 160 + 32 + 4_640 + 64 + 18_496 + 128 + 73_856 + 256 + 2_098_176 + 131_200 + 1_290,
}

FLATTENED = {  # the first linear layer's input size on the tutorial's own input
    "seed000_net": ("fc1", 9216),
    "seed001_convnet": ("fc1", 1600),
    "seed002_net": ("fc", 4 * 7 * 7),
    "seed003_cnn": ("fc", 6 * 7 * 7),
    "seed004_simplecnn": ("fc1", 2048),
    "seed004_cnn": ("classifier.0", 128 * 4 * 4),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_seed_model_parameter_count(name):
    assert count_parameters(build_model(name)) == EXPECTED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(FLATTENED))
def test_seed_model_flattened_size(name):
    layer, size = FLATTENED[name]
    assert build_model(name).get_submodule(layer).in_features == size


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_every_model_runs_on_mnist_and_cifar_shapes(name, shape):
    model = build_model(name, shape[0], 10, shape[1]).eval()
    with torch.no_grad():
        out = model(torch.randn(4, *shape))
    assert out.shape == (4, 10) and torch.isfinite(out).all()


def test_layer_order_matches_the_tutorials():
    types = lambda name: [t for _, t, _, _ in summarize(build_model(name), get_spec(name).input_shape)]
    # seed001: four convolutions with no activation between them; ReLU only after fc1
    assert types("seed001_convnet") == [
        "Conv2d",
        "Conv2d",
        "MaxPool2d",
        "Conv2d",
        "Conv2d",
        "MaxPool2d",
        "Linear",
        "ReLU",
        "Linear",
    ]
    # seed004 CNN: conv-BN-ReLU x2, pool, conv-BN-ReLU x2, pool, then fc-ReLU-fc-fc (no ReLU between the last two)
    block = ["Conv2d", "BatchNorm2d", "ReLU"]
    assert types("seed004_cnn") == block * 2 + ["MaxPool2d"] + block * 2 + [
        "MaxPool2d",
        "Linear",
        "ReLU",
        "Linear",
        "Linear",
    ]


def test_seed000_outputs_log_probabilities():
    out = build_model("seed000_net").eval()(torch.randn(3, 1, 28, 28))
    assert torch.allclose(out.exp().sum(1), torch.ones(3), atol=1e-5)


def test_summary_shapes_and_cli_table():
    rows = summarize(build_model("seed002_net"), (1, 28, 28))
    assert [(n, s) for n, _, s, _ in rows][:3] == [
        ("conv1", (1, 4, 28, 28)),
        ("bn1", (1, 4, 28, 28)),
        ("pool", (1, 4, 14, 14)),
    ]
    out = subprocess.run(
        [sys.executable, "-m", "cnn.models", "seed002_keras"], capture_output=True, text=True, check=True
    ).stdout
    assert "Total params: 1,198" in out and "(None, 4, 26, 26)" in out and "(None, 10)" in out
