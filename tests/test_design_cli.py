"""Designs on the command line: python -m cnn.models --layers prints the table; a bad design ends
cnn.train and cnn.models with status 2 and one line saying what is wrong, before any data loads."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnn.cli.models import main as models_main
from cnn.cli.train import main as train_main

ROOT = Path(__file__).resolve().parents[1]
LENET = ROOT / "examples" / "lenet5.json"


def cli(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_models_prints_a_designs_table():
    r = cli("cnn.models", "--layers", str(LENET))
    assert r.returncode == 0, r.stderr
    assert "on mnist: Conv6-AvgPool-Conv16-AvgPool-Linear120-Linear84-Linear10" in r.stdout
    assert "Total params: 61,706" in r.stdout and "16x5x5" in r.stdout
    r = cli("cnn.models", "--layers", str(LENET), "--dataset", "cifar10")
    assert r.returncode == 0 and "Input: 3x32x32" in r.stdout and "Total params: 83,126" in r.stdout


CONV = {"layer": "Conv2d", "out_channels": 4, "kernel_size": 3}
HEAD = [{"layer": "Flatten"}, {"layer": "Linear"}]
BAD = {
    "malformed JSON": ('[{"layer": "Conv2d",]', "is not valid JSON: Expecting property name"),
    "unknown layer": ([{"layer": "Conv3d"}, *HEAD], "layer 1: unknown layer 'Conv3d'; did you mean Conv2d?"),
    "unknown argument": ([{**CONV, "kernal_size": 3}, *HEAD], "layer 1, Conv2d: unknown argument 'kernal_size'"),
    "wrong type": ([{**CONV, "kernel_size": "3"}, *HEAD], "layer 1, Conv2d: kernel_size must be a whole number"),
    "zero size": ([{**CONV, "out_channels": 0}, *HEAD], "layer 1, Conv2d: out_channels must be at least 1, not 0"),
    "negative size": (
        [CONV, {"layer": "Flatten"}, {"layer": "Linear", "out_features": -5}, {"layer": "Linear"}],
        "layer 3, Linear: out_features must be at least 1, not -5",
    ),
    "collapsing shape": (
        [*[{"layer": "MaxPool2d", "kernel_size": 2}] * 4, {**CONV, "kernel_size": 5}, *HEAD],
        "layer 5, Conv2d: a 5x5 kernel does not fit the 1x1 input; add padding or remove a pooling layer",
    ),
    "no classifier": ([CONV], "The design has no classifier"),
    "too big": (
        [
            {**CONV, "out_channels": 256, "padding": 1},
            {"layer": "Flatten"},
            {"layer": "Linear", "out_features": 1000},
            {"layer": "Linear"},
        ],
        "parameters; the limit is 10,000,000",
    ),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_a_bad_design_exits_2_with_one_line(kind, tmp_path, capsys):
    """In this process (each run of a fresh one costs seconds of imports); the next test runs one."""
    design, message = BAD[kind]
    path = tmp_path / "bad.json"
    path.write_text(design if isinstance(design, str) else json.dumps(design))
    out = tmp_path / "x.safetensors"
    for main, args in (
        (train_main, ["--dataset", "mnist", "--layers", str(path), "--out", str(out)]),
        (models_main, ["--layers", str(path)]),
    ):
        with pytest.raises(SystemExit) as exit:
            main(args)
        assert exit.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
        assert not out.exists() and not (tmp_path / "x.safetensors.jsonl").exists()  # no run started


def test_the_program_exits_2(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(BAD["unknown layer"][0]))
    r = cli("cnn.train", "--dataset", "mnist", "--layers", str(path), "--out", str(tmp_path / "x.safetensors"))
    assert r.returncode == 2 and r.stderr.strip() == "error: " + BAD["unknown layer"][1] + (
        " Use one of Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, BatchNorm2d, BatchNorm1d, "
        "ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid, Dropout, Dropout2d, Flatten, Linear, Residual."
    ).replace(" Use", " use")


def test_a_missing_file_and_model_with_layers(capsys):
    for args, message in (
        (["--dataset", "mnist", "--layers", "no/such.json"], "No design file at no/such.json"),
        (["--dataset", "mnist", "--layers", str(LENET), "--model", "mnist_fast"], "leave out --model"),
    ):
        with pytest.raises(SystemExit) as exit:
            train_main(args)
        assert exit.value.code == 2 and message in capsys.readouterr().err
