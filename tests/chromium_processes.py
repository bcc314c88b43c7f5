"""This process's chromium processes and their CPU seconds, read from Linux's /proc (Playwright's
driver starts chromium under the process that drives it). One place for tests/slow_page.py and for the
benchmarks that measure what the browser costs (bench/app_vs_cli.py, bench/browser_idle.py)."""

from __future__ import annotations

import os
import re

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat_path: str) -> float:
    """user + system CPU seconds from a /proc .../stat file (0 when it is gone)."""
    try:
        with open(stat_path) as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def ours() -> dict[int, str]:
    """{pid: kind} of the chromium processes under this one: kind is the process's --type (renderer,
    gpu-process, utility, ...), "browser" for the browser process itself. Another program's chromium
    on the same machine is never among them."""
    parent = {}
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/stat") as fh:
                parent[int(d)] = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # ended meanwhile
            pass

    def under_us(pid: int) -> bool:
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    kinds = {}
    for pid in filter(under_us, parent):
        try:
            with open(f"/proc/{pid}/comm") as fh:
                if "chrom" not in fh.read():
                    continue
            with open(f"/proc/{pid}/cmdline") as fh:
                kind = re.search(r"--type=(\S+)", fh.read().replace("\0", " "))
        except OSError:
            continue
        kinds[pid] = kind.group(1) if kind else "browser"
    return kinds
