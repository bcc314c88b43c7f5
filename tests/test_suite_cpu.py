"""tools/suite_cpu.py, the suite's own profile: as a pytest plugin it records each test's wall
seconds and the machine's CPU seconds meanwhile (each run anew), and its summary names the slowest."""

import json
import os
import subprocess
import sys
from pathlib import Path

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


def profiled(tmp_path, *options: str) -> tuple[dict, list[dict], Path]:
    """Runs SAMPLE under the plugin: ({test name: its row}, the run's rows, the profile's path)."""
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    out = tmp_path / "profile.jsonl"
    out.write_text('{"id": "an earlier run", "wall": 1, "cpu": 1}\n')  # replaced, not added to
    env = {**os.environ, "SUITE_CPU_OUT": str(out)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tools.suite_cpu", *options]
    done = subprocess.run([*cmd, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = list(map(json.loads, out.read_text().splitlines()))
    return {r["id"].split("::")[-1]: r for r in rows if "id" in r}, [r for r in rows if "run" in r], out


def test_the_plugin_records_wall_and_cpu_seconds_and_the_summary_names_the_slowest(tmp_path):
    rows, (run,), out = profiled(tmp_path)
    assert set(rows) == {"test_waits", "test_computes"}
    assert run["run"] == 1 and run["wall"] >= 1.2 and run["cpu"] >= 0.35
    assert rows["test_waits"]["wall"] >= 0.8
    assert rows["test_computes"]["cpu"] >= 0.35  # its own 0.4 CPU-s, and whatever else the machine did
    text = subprocess.run(
        [sys.executable, "tools/suite_cpu.py", str(out), "--top", "1"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert text.startswith("2 tests: ") and "test_sample.py" in text and "the run, 1 worker(s): " in text
    slowest = text.split("the 1 slowest tests:")[1].splitlines()[1:]
    assert len(slowest) == 1 and slowest[0].endswith("::test_waits")


def test_two_workers_write_one_profile_with_every_test_and_the_run(tmp_path):
    """With pytest-xdist's two workers, neither wipes the other's rows, and the run's row is the
    controller's alone."""
    rows, runs, out = profiled(tmp_path, "-n", "2")
    assert set(rows) == {"test_waits", "test_computes"} and rows["test_waits"]["wall"] >= 0.8
    assert len(runs) == 1 and runs[0]["run"] == 2
    assert {r["worker"] for r in rows.values()} <= {"gw0", "gw1"}
    text = subprocess.run([sys.executable, "tools/suite_cpu.py", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert text.stdout.startswith("2 tests summed over the workers: ") and "the run, 2 worker(s): " in text.stdout
