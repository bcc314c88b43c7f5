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
import threading

from chromium_processes import cpu_seconds, ours

SLICE_S = 0.02  # the renderer runs this long, then stops (rate - 1) times as long
# the page counts loop turns for 0.4 s of its clock: fewer turns, a slower page
BUSY_JS = "() => { const t = performance.now(); let n = 0; while (performance.now() - t < 400) n++; return n; }"


def page_renderer(page) -> tuple[int, int]:
    """(the pid of the renderer process that runs `page`, its loop turns in 0.4 s): the renderer that
    spends the CPU while the page runs the loop (no Playwright or DevTools call names it); only this
    process's renderers are candidates, so another test run's busy page is never taken for ours."""
    stat = lambda pid: cpu_seconds(f"/proc/{pid}/stat")
    before = {pid: stat(pid) for pid, kind in ours().items() if kind == "renderer"}
    turns = page.evaluate(BUSY_JS)
    spent = {pid: stat(pid) - cpu for pid, cpu in before.items()}
    pid = max(spent, key=spent.get, default=None)
    if pid is None or spent[pid] < 0.1:
        raise RuntimeError(f"no renderer ran the page's loop: {spent}")
    return pid, turns


class SlowedProcess:
    """Runs the process one SLICE_S in every `rate` until stop() (then it runs freely again)."""

    def __init__(self, pid: int, rate: float):
        self.pid, self.rate, self._done = pid, rate, threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"slow-{pid}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._done.is_set():
                os.kill(self.pid, signal.SIGSTOP)
                self._done.wait(SLICE_S * (self.rate - 1))
                os.kill(self.pid, signal.SIGCONT)
                self._done.wait(SLICE_S)
        except ProcessLookupError:  # the page was closed
            pass
        finally:
            try:
                os.kill(self.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def slow_down(page):
    """page.throttle(rate): from now on the page runs `rate` times slower (1: at full speed again).
    Checks that it did: slowed `rate` times, the page's loop may turn at most 2/rate times as often as
    at full speed (half the slowing asked; the probe in docs/testing.md measured 4.4x at 4)."""
    current: list[SlowedProcess] = []

    def throttle(rate: float) -> None:
        while current:
            current.pop().stop()
        if rate > 1:
            pid, full = page_renderer(page)
            current.append(SlowedProcess(pid, rate))
            slowed = page.evaluate(BUSY_JS)
            if slowed > full * 2 / rate:
                raise AssertionError(f"the page did not slow down {rate}x: {slowed} loop turns against {full}")

    return throttle
