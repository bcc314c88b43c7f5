"""A page slowed `rate` times, as on a slower machine, without spending the CPU it holds back.

Chromium's own CPU throttling (DevTools' Emulation.setCPUThrottlingRate) holds the page's main thread
back in a signal handler that spins: at 4x an idle page kept 0.63 of a core busy doing nothing (6.3
CPU-s in 10 s; here 0.1), so on a 2-core machine the app's server and the browser's drawing shared the
other core. Here the page's renderer process is stopped and continued instead (SIGSTOP and SIGCONT): it
runs one slice of SLICE_S in every `rate`. The same JavaScript loop took 1.24 s slowed 4x this way,
1.30 s under Chromium's 4x, and 0.28 s at full speed (Intel VM, 2026-12-07; docs/testing.md). The whole
renderer slows, its compositor too, as on a slower computer. Linux only (/proc, signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from chromium_processes import cpu_seconds, ours  # (run as the child, this file's folder is on sys.path)

SLICE_S = 0.02  # the renderer runs this long, then stops (rate - 1) times as long
# the page counts loop turns for 0.4 s of its clock: fewer turns, a slower page
BUSY_JS = "() => { const t = performance.now(); let n = 0; while (performance.now() - t < 400) n++; return n; }"


def busy_renderers(page) -> tuple[list[int], int]:
    """(the renderer processes that spent CPU while `page` ran a 0.4 s loop, busiest first; the loop's
    turns). No Playwright or DevTools call names a page's process, and the busiest is not always it: a
    renderer Chromium is starting spends CPU too (a probe, 2026-12-08: the first pick of a fresh
    browser was such a one twice in two). Only this process's renderers are candidates, so another
    test run's busy page is never taken for ours."""
    stat = lambda pid: cpu_seconds(f"/proc/{pid}/stat")
    before = {pid: stat(pid) for pid, kind in ours().items() if kind == "renderer"}
    turns = page.evaluate(BUSY_JS)
    spent = {pid: stat(pid) - cpu for pid, cpu in before.items()}
    return sorted((pid for pid in spent if spent[pid] >= 0.05), key=spent.get, reverse=True), turns


class SlowedProcess:
    """Runs the process one SLICE_S in every `rate` until stop() (then it runs freely again).

    The stopping and continuing is done by a child Python of its own (this file run as a script), not
    by a thread here: a thread of the test process waits for the GIL behind the app it serves, and
    each late stop let the page run longer (CI, 2026-12-08: a page meant to run 4x slower ran 1.9x)."""

    def __init__(self, pid: int, rate: float):
        self.pid = pid
        self._child = subprocess.Popen([sys.executable, __file__, str(pid), str(rate)])

    def stop(self) -> None:
        self._child.terminate()
        self._child.wait()
        try:
            os.kill(self.pid, signal.SIGCONT)  # (even if the child could not)
        except ProcessLookupError:
            pass


def _stop_and_continue(pid: int, rate: float) -> None:
    """The child's loop: SIGSTOP, wait, SIGCONT, wait SLICE_S; each stop lasts (rate - 1) times as long
    as the process really ran before it, so a late wake-up here never lets the page run longer. Ends
    on SIGTERM, or when its parent or the process is gone, leaving the process running."""
    parent, ran = os.getppid(), SLICE_S

    def ended(*_):
        raise SystemExit

    signal.signal(signal.SIGTERM, ended)
    try:
        while os.getppid() == parent:
            os.kill(pid, signal.SIGSTOP)
            time.sleep(ran * (rate - 1))
            os.kill(pid, signal.SIGCONT)
            continued = time.monotonic()
            time.sleep(SLICE_S)
            ran = time.monotonic() - continued
    except (ProcessLookupError, SystemExit):
        pass
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def slow_down(page):
    """page.throttle(rate): from now on the page runs `rate` times slower (1: at full speed again).
    The renderer slowed is the one whose slowing shows in the page: its loop turns nearer to 1/rate of
    their full-speed count than to all of it (a probe, 2026-12-08: 0.16-0.46 at 4x on a busy machine,
    against 1.1-2.2 for a wrong renderer). A slowing that shows in no renderer fails the test."""
    current: list[SlowedProcess] = []

    def throttle(rate: float) -> None:
        while current:
            current.pop().stop()
        if rate <= 1:
            return
        candidates, full = busy_renderers(page)
        most = full * (1 + 1 / rate) / 2
        seen = []
        for pid in candidates:
            slowed = SlowedProcess(pid, rate)
            # (one sample may meet a busy machine: a second one decides)
            turns = [page.evaluate(BUSY_JS)]
            if turns[0] > most:
                turns.append(page.evaluate(BUSY_JS))
            if min(turns) <= most:
                current.append(slowed)
                return
            slowed.stop()
            seen.append((pid, turns))
        raise AssertionError(f"the page did not slow down {rate}x: {full} loop turns at full speed, {seen}")

    return throttle


if __name__ == "__main__":
    _stop_and_continue(int(sys.argv[1]), float(sys.argv[2]))
