"""The CPUs this process may use, which in a container is fewer than the host's cores.

`os.cpu_count()` and /proc/stat count the host's cores. A container is limited by a CPU set (the
process's affinity) or by a CPU quota (cgroup v2 `cpu.max`, cgroup v1 `cpu.cfs_quota_us` over
`cpu.cfs_period_us`): torch sized to the host's cores would start more threads than the quota
lets run, and OpenMP's threads, waiting for each other at every operation, lose whole time slices.
`usable_cpus()` is the smaller of the two, rounded up (a quota of 1.5 CPUs: 2 threads), at least 1.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def affinity_cpus() -> int:
    """The cores this process may run on (its CPU set), else the host's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _own_paths(proc_cgroup: Path) -> tuple[str | None, str | None]:
    """(this process's cgroup v2 path, its v1 cpu controller's path) from /proc/self/cgroup."""
    v2 = v1 = None
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        elif "cpu" in parts[1].split(","):
            v1 = parts[2]
    return v2, v1


def _upwards(root: Path, own: str | None, *subdirs: str):
    """The process's cgroup folder and every parent up to the root, under each of `subdirs`: a
    limit set on a parent binds too. Inside a container the path is often '/', the root itself."""
    parts = [p for p in (own or "/").split("/") if p and p != ".."]
    for sub in subdirs:
        base = root / sub if sub else root
        for n in range(len(parts), -1, -1):
            yield base.joinpath(*parts[:n])


def quota_cpus(root: str | os.PathLike = CGROUP_ROOT, proc_cgroup: str | os.PathLike = PROC_CGROUP) -> float | None:
    """The CPUs a cgroup quota allows (the smallest along the process's cgroup and its parents), or
    None when there is none: 'max' (v2), -1 (v1), or no cgroup files (not Linux, not mounted)."""
    root, (v2, v1) = Path(root), _own_paths(Path(proc_cgroup))
    found = []
    for folder in _upwards(root, v2, ""):
        fields = (_read(folder / "cpu.max") or "").split()
        if len(fields) == 2 and fields[0] != "max":
            found.append(_ratio(fields[0], fields[1]))
    for folder in _upwards(root, v1, "cpu", "cpu,cpuacct", "cpuacct,cpu"):
        quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
        if quota and period and quota.lstrip("-").isdigit() and int(quota) > 0:
            found.append(_ratio(quota, period))
    found = [f for f in found if f is not None]
    return min(found) if found else None


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def usable_cpus(root: str | os.PathLike = CGROUP_ROOT, proc_cgroup: str | os.PathLike = PROC_CGROUP) -> int:
    """The CPUs this process may use: its CPU set, capped by a cgroup quota (rounded up), at least 1."""
    cpus = affinity_cpus()
    quota = quota_cpus(root, proc_cgroup)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota - 1e-9))
    return max(1, cpus)
