"""tools/suite_cpu.py, the suite's own profile: as a pytest plugin it records each test's wall
seconds and the machine's CPU seconds meanwhile (each run anew), and its summary names the slowest."""

import json
import os
import subprocess
import sys

from app_helpers import ROOT

SAMPLE = """
import time

def test_waits():
    time.sleep(0.8)

def test_computes():
    end = time.process_time() + 0.4
    while time.process_time() < end:
        pass
"""


def test_the_plugin_records_wall_and_cpu_seconds_and_the_summary_names_the_slowest(tmp_path):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    out = tmp_path / "profile.jsonl"
    out.write_text('{"id": "an earlier run", "wall": 1, "cpu": 1}\n')  # replaced, not added to
    env = {**os.environ, "SUITE_CPU_OUT": str(out)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tools.suite_cpu", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {r["id"].split("::")[-1]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"test_waits", "test_computes"}
    assert rows["test_waits"]["wall"] >= 0.8
    assert rows["test_computes"]["cpu"] >= 0.35  # its own 0.4 CPU-s, and whatever else the machine did
    text = subprocess.run(
        [sys.executable, "tools/suite_cpu.py", str(out), "--top", "1"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert text.startswith("2 tests: ") and "test_sample.py" in text
    slowest = text.split("the 1 slowest tests:")[1].splitlines()[1:]
    assert len(slowest) == 1 and slowest[0].endswith("::test_waits")
