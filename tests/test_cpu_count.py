"""cnn.cpu_count: the CPUs this process may use, from its real CPU set (os.sched_setaffinity, in a
child process so the test's own affinity is untouched) and from cgroup quotas read from fixture
files laid out as /sys/fs/cgroup is (the cgroup root is a parameter)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnn.cpu_count import quota_cpus, usable_cpus

ROOT = Path(__file__).resolve().parents[1]
needs_two = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs and Linux"
)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def cgroup_v2(tmp_path: Path, cpu_max: str, own: str = "/") -> tuple[Path, Path]:
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    write(root / own.strip("/") / "cpu.max", cpu_max + "\n")
    write(proc, f"0::{own}\n")
    return root, proc


def cgroup_v1(tmp_path: Path, quota: int, period: int, own: str = "/") -> tuple[Path, Path]:
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    folder = root / "cpu,cpuacct" / own.strip("/")
    write(folder / "cpu.cfs_quota_us", f"{quota}\n")
    write(folder / "cpu.cfs_period_us", f"{period}\n")
    write(proc, f"12:memory:{own}\n4:cpu,cpuacct:{own}\n0::/\n")
    return root, proc


@needs_two
def test_a_cpu_set_of_one_core_counts_one_and_torch_starts_on_one_thread():
    code = (
        "import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]});"
        "from cnn.cpu_count import usable_cpus; from cnn import cpu_share; import torch;"
        "print(usable_cpus(), cpu_share.PROCESS_THREADS, torch.get_num_threads(), os.cpu_count())"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    usable, process_threads, torch_threads, host = map(int, out.stdout.split())
    assert host >= 2  # the host still has more
    assert (usable, process_threads, torch_threads) == (1, 1, 1)


def test_without_a_quota_it_is_the_cpu_set(tmp_path):
    root, proc = cgroup_v2(tmp_path, "max 100000")
    assert quota_cpus(root, proc) is None
    assert usable_cpus(root, proc) == len(os.sched_getaffinity(0))
    assert usable_cpus(tmp_path / "no-cgroups", tmp_path / "nothing") == len(os.sched_getaffinity(0))


@needs_two
def test_a_cgroup_v2_quota_of_one_cpu_counts_one(tmp_path):
    root, proc = cgroup_v2(tmp_path, "100000 100000")
    assert quota_cpus(root, proc) == 1.0
    assert usable_cpus(root, proc) == 1


def test_a_fractional_quota_rounds_up_and_never_goes_under_one(tmp_path):
    root, proc = cgroup_v2(tmp_path, "150000 100000")
    assert usable_cpus(root, proc) == min(2, len(os.sched_getaffinity(0)))
    root, proc = cgroup_v2(tmp_path / "small", "10000 100000")
    assert quota_cpus(root, proc) == pytest.approx(0.1)
    assert usable_cpus(root, proc) == 1


@needs_two
def test_a_limit_on_a_parent_cgroup_binds_the_process_below_it(tmp_path):
    root, proc = cgroup_v2(tmp_path, "max 100000", own="/kubepods/pod1/box")
    write(root / "kubepods" / "pod1" / "cpu.max", "100000 100000\n")
    assert usable_cpus(root, proc) == 1


@needs_two
def test_a_cgroup_v1_quota_counts_and_minus_one_means_none(tmp_path):
    root, proc = cgroup_v1(tmp_path, 50000, 100000, own="/docker/abc")
    assert quota_cpus(root, proc) == 0.5 and usable_cpus(root, proc) == 1
    root, proc = cgroup_v1(tmp_path / "free", -1, 100000)
    assert quota_cpus(root, proc) is None
    assert usable_cpus(root, proc) == len(os.sched_getaffinity(0))


def test_the_machines_own_cgroup_files_are_read_without_error():
    n = usable_cpus()
    assert 1 <= n <= (os.cpu_count() or 1)
