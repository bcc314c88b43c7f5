"""The engine gives the same numbers as before its redesign: three short, seeded CPU runs
(mnist_fast, a seed model with Adam, cifar10_fast on a small CIFAR-10 subset) reproduce the
per-step losses, epoch figures and final accuracy recorded with the old engine
(tests/fixtures/step_losses.json, made by tests/fixtures/record_step_losses.py) to 1e-6."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).with_name("fixtures")
RECORDED = json.loads((FIXTURES / "step_losses.json").read_text())


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_training_reproduces_the_recorded_losses(name, data_dir):
    # A fresh process each: the ISA limits must be set before torch is imported.
    out = subprocess.run(
        [sys.executable, str(FIXTURES / "record_step_losses.py"), "--one", name],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CNN_DATA_DIR": str(data_dir)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    now, then = json.loads(out.stdout.strip().splitlines()[-1]), RECORDED[name]
    assert now["status"] == then["status"] == "finished"
    assert len(now["losses"]) == len(then["losses"]) > 10
    assert now["losses"] == pytest.approx(then["losses"], rel=1e-6, abs=1e-6)
    flat = lambda rows: [v for row in rows for v in row]
    assert flat(now["epochs"]) == pytest.approx(flat(then["epochs"]), rel=1e-6, abs=1e-6)
    assert now["test_accuracy"] == pytest.approx(then["test_accuracy"], abs=1e-6)
