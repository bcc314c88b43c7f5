"""What the page costs the browser while nobody touches it: headless chromium's CPU seconds over
a quiet spell, on each tab, with and without the app's pause of the hidden Draw canvas.

    python bench/browser_idle.py [--seconds 20] [--settle 5] [--tabs Train,Draw]

For each variant a fresh app (in this process) and a fresh chromium: the page opens (on the Draw
tab, as every visitor's does), the tab is clicked, and after `--settle` seconds the CPU time of
every chromium process is read from /proc before and after `--seconds` seconds. A blank page in
the same browser is the floor. "without the pause" builds the page with ui.app.PAUSE_HIDDEN_CANVAS
empty, as it was before. The browser is software-rendered (--disable-gpu), as on a machine with
no GPU; its CPU time hardly depends on other load, its wall clock does.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import common  # noqa: F401
from common import header, table
from app_vs_cli import CHROMIUM_ARGS, browser_cpu, launch

import ui.app


def idle_cpu(page, seconds: float) -> float:
    """Chromium's CPU seconds over `seconds` of wall time, per second."""
    c0, t0 = browser_cpu(), time.perf_counter()
    page.wait_for_timeout(seconds * 1000)
    return (browser_cpu() - c0) / (time.perf_counter() - t0)


def measure(pw, exe: str, tab: str | None, pause: bool, args) -> float:
    """CPU cores the browser keeps busy on `tab` (None: a blank page)."""
    saved = getattr(ui.app, "PAUSE_HIDDEN_CANVAS", "")
    ui.app.PAUSE_HIDDEN_CANVAS = saved if pause else ""
    demo, url = launch(Path(tempfile.mkdtemp(prefix="browser-idle-")) / "runs")
    ui.app.PAUSE_HIDDEN_CANVAS = saved
    try:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        if tab is None:
            page.goto("about:blank")
        else:
            page.goto(url)
            page.locator("#sketch canvas").first.wait_for(timeout=60_000)
            page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(args.settle * 1000)
        cores = idle_cpu(page, args.seconds)
        browser.close()
    finally:
        demo.close()
    return cores


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--settle", type=float, default=5)
    p.add_argument("--tabs", default="Train,Draw")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright
    header("the browser's CPU while the page sits idle")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    rows = []
    with sync_playwright() as pw:
        blank = measure(pw, exe, None, True, args)
        rows.append({"page": "about:blank (floor)", "hidden canvas": "-", "browser CPU (cores)": f"{blank:.3f}",
                     f"CPU s per {args.seconds:g} s": f"{blank * args.seconds:.1f}"})
        for tab in args.tabs.split(","):
            for pause in (False, True) if getattr(ui.app, "PAUSE_HIDDEN_CANVAS", "") else (False,):
                cores = measure(pw, exe, tab, pause, args)
                rows.append({"page": f"the app, {tab} tab", "hidden canvas": "paused" if pause else "as before",
                             "browser CPU (cores)": f"{cores:.3f}", f"CPU s per {args.seconds:g} s": f"{cores * args.seconds:.1f}"})
    print(f"idle {args.seconds:g} s after {args.settle:g} s on the tab; chromium {CHROMIUM_ARGS}")
    print(table(rows, ["page", "hidden canvas", "browser CPU (cores)", f"CPU s per {args.seconds:g} s"]))


if __name__ == "__main__":
    main()
