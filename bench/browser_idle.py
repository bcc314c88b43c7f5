"""What the page costs the browser while nobody touches it: headless chromium's CPU seconds over
a quiet spell, on each tab.

    python bench/browser_idle.py [--seconds 20] [--settle 5] [--tabs Train,Draw] [--after-stroke] [--every-tab]

For each tab a fresh app (in this process) and a fresh chromium: the page opens (on the Draw
tab, as every visitor's does), the tab is clicked, and after `--settle` seconds the CPU time of
every chromium process is read from /proc before and after `--seconds` seconds. A blank page in
the same browser is the floor. --after-stroke first draws one stroke on the Draw tab and waits for
its answer, as a visitor who drew a digit and moved on; --every-tab then opens every tab of the
page once (a visitor who looked around) before the measured one; the requests the idle page sends
are counted too. (docs/performance-cpu.md, "The idle page", has its figures.) The browser is
software-rendered (--disable-gpu), as on a machine with
no GPU; its CPU time hardly depends on other load, its wall clock does.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import common  # noqa: F401
from app_vs_cli import CHROMIUM_ARGS, browser_cpu, launch
from common import header, table


def idle_cpu(page, seconds: float) -> float:
    """Chromium's CPU seconds over `seconds` of wall time, per second."""
    c0, t0 = browser_cpu(), time.perf_counter()
    page.wait_for_timeout(seconds * 1000)
    return (browser_cpu() - c0) / (time.perf_counter() - t0)


def stroke(page) -> None:
    """One stroke down the Draw tab's canvas, and its answer."""
    page.wait_for_function("() => !document.querySelector('#sketch').innerText.includes('select the draw tool')")
    b = page.locator("#sketch canvas").first.bounding_box()
    x = b["x"] + b["width"] / 2
    page.mouse.move(x, b["y"] + 0.2 * b["height"])
    page.mouse.down()
    page.mouse.move(x, b["y"] + 0.8 * b["height"], steps=12)
    page.mouse.up()
    page.wait_for_function("() => /%/.test(document.querySelector('#digit-label')?.innerText || '')")


TABS = ("Draw", "Photo", "Train", "Teach", "Inside", "Runs")


def open_every_tab(page) -> None:
    """Each tab clicked once, in the page's order, a second on each (its first render)."""
    for name in TABS:
        page.get_by_role("tab", name=name).click()
        page.wait_for_timeout(1000)


def measure(pw, exe: str, tab: str | None, args) -> tuple[float, int]:
    """(CPU cores the browser keeps busy on `tab` (None: a blank page), requests the page sent)."""
    demo, url = launch(Path(tempfile.mkdtemp(prefix="browser-idle-")) / "runs")
    try:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        if tab is None:
            page.goto("about:blank")
        else:
            page.goto(url)
            page.locator("#sketch canvas").first.wait_for(timeout=60_000)
            if args.after_stroke:
                stroke(page)
            if args.every_tab:
                open_every_tab(page)
            page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(args.settle * 1000)
        sent = []
        page.on("request", lambda r: sent.append(r.url))
        cores = idle_cpu(page, args.seconds)
        browser.close()
    finally:
        demo.close()
    return cores, len(sent)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--settle", type=float, default=5)
    p.add_argument("--tabs", default="Train,Draw")
    p.add_argument("--after-stroke", action="store_true", help="draw one stroke on the Draw tab first")
    p.add_argument("--every-tab", action="store_true", help="open every tab once before the measured one")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    header("the browser's CPU while the page sits idle")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    rows = []
    with sync_playwright() as pw:
        for page, tab in [("about:blank (floor)", None)] + [(f"the app, {t} tab", t) for t in args.tabs.split(",")]:
            cores, sent = measure(pw, exe, tab, args)
            rows.append(
                {
                    "page": page,
                    "browser CPU (cores)": f"{cores:.3f}",
                    f"CPU s per {args.seconds:g} s": f"{cores * args.seconds:.1f}",
                    "requests sent": sent,
                }
            )
    drawn = ", after one stroke on the Draw tab" if args.after_stroke else ""
    drawn += ", with every tab opened once" if args.every_tab else ""
    print(f"idle {args.seconds:g} s after {args.settle:g} s on the tab{drawn}; chromium {CHROMIUM_ARGS}")
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
