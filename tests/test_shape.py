"""tools/shape.py, the shape check CI runs: on this tree it passes, and on a small tree made to have
them it fails for each way the shape can get worse (a new breach, a listed one grown, a listed one
no longer over) and only notes a listed one that shrank."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPE = ROOT / "tools" / "shape.py"


def check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SHAPE), "--root", str(root), *args], capture_output=True, text=True, timeout=120
    )


def function(name: str, lines: int) -> str:
    """A function `lines` long, def line included."""
    return f"def {name}():\n" + "    x = 0\n" * (lines - 2) + "    return x\n"


def tree(tmp_path: Path, *, long_fn: int, big_file: int, known: str) -> Path:
    """cnn/a.py with a function `long_fn` lines long; ui/b.py `big_file` lines long; the known list."""
    (tmp_path / "cnn").mkdir()
    (tmp_path / "ui").mkdir()
    (tmp_path / "tools").mkdir()
    (tmp_path / "cnn" / "a.py").write_text(function("long", long_fn) + function("short", 5))
    (tmp_path / "ui" / "b.py").write_text("x = 1\n" * big_file)
    (tmp_path / "tools" / "shape_known.txt").write_text("# known\n" + known)
    return tmp_path


def test_this_tree_keeps_its_shape():
    r = check(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "longest function: " in r.stdout and "largest file: " in r.stdout


def test_it_names_the_longest_function_and_the_largest_file(tmp_path):
    r = check(tree(tmp_path, long_fn=40, big_file=200, known=""))
    assert r.returncode == 0, r.stdout
    assert "longest function: cnn/a.py:long, 40 lines" in r.stdout
    assert "largest file: ui/b.py, 200 lines" in r.stdout


def test_a_new_breach_fails(tmp_path):
    r = check(tree(tmp_path, long_fn=61, big_file=351, known=""))
    assert r.returncode == 1
    assert "new breach: cnn/a.py:long is 61 lines" in r.stdout
    assert "new breach: ui/b.py is 351 lines" in r.stdout


def test_a_listed_breach_that_grew_fails(tmp_path):
    r = check(tree(tmp_path, long_fn=70, big_file=360, known="cnn/a.py:long 65\nui/b.py 360\n"))
    assert r.returncode == 1
    assert "grown: cnn/a.py:long is 70 lines, listed at 65" in r.stdout
    assert "ui/b.py" not in r.stdout.split("listed as known")[1]  # the file kept its size: no word


def test_a_listed_breach_no_longer_over_fails(tmp_path):
    r = check(tree(tmp_path, long_fn=60, big_file=350, known="cnn/a.py:long 65\nui/b.py 400\n"))
    assert r.returncode == 1
    assert "no longer over: cnn/a.py:long (listed at 65)" in r.stdout
    assert "no longer over: ui/b.py (listed at 400)" in r.stdout


def test_a_listed_breach_that_shrank_is_noted_and_update_lowers_it(tmp_path):
    root = tree(tmp_path, long_fn=62, big_file=100, known="cnn/a.py:long 65\n")
    r = check(root)
    assert r.returncode == 0, r.stdout
    assert "shrunk: cnn/a.py:long is 62 lines, listed at 65" in r.stdout
    assert check(root, "--update").returncode == 0
    assert (root / "tools" / "shape_known.txt").read_text() == "# known\ncnn/a.py:long 62\n"
    (root / "cnn" / "a.py").write_text(function("long", 64))  # now 64 > the lowered 62
    assert "grown: cnn/a.py:long is 64 lines, listed at 62" in check(root).stdout
