"""docs/deploying.md's gradio_client example, run as it is written (its address aside) against a live
app, in a process of its own: it trains through /train and then predicts with the run it made."""

from __future__ import annotations

import re
import subprocess
import sys

from app_helpers import ROOT, launch
from load_client import drawn_digit

DOC = ROOT / "docs" / "deploying.md"


def example() -> str:
    section = DOC.read_text().split("## Train from a program", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_train_then_predict_example_runs(tmp_path):
    code = example()
    assert 'Client("http://127.0.0.1:7860/")' in code and 'api_name="/train"' in code
    demo, url = launch(tmp_path / "runs")
    try:
        drawn_digit(tmp_path / "digit.png")
        out = subprocess.run(
            [sys.executable, "-c", code.replace("http://127.0.0.1:7860/", url)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        demo.runs.stop()
        demo.runs.wait_idle(60)
        demo.close()
    assert out.returncode == 0, out.stderr[-3000:]
    assert "'status': 'training'" in out.stdout  # the job's updates: its progress
    run = re.search(r"test accuracy [01]\.\d+ run (\S+) checkpoint (\S+)", out.stdout)
    assert run and (tmp_path / "runs" / f"{run.group(1)}.safetensors").is_file()
    assert re.search(r"^prediction \d \{", out.stdout, re.M)
