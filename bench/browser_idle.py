"""What the page costs the browser while nobody touches it: headless chromium's CPU seconds over
a quiet spell, on each tab.

    python bench/browser_idle.py [--seconds 20] [--settle 5] [--tabs Train,Draw] [--after-stroke] [--every-tab]
                                 [--baseline] [--loader-timer]

For each tab a fresh app (in this process) and a fresh chromium: the page opens (on the Draw
tab, as every visitor's does), the tab is clicked, and after `--settle` seconds the CPU time of
every chromium process is read from /proc before and after `--seconds` seconds. A blank page in
the same browser is the floor. --after-stroke first draws one stroke on the Draw tab and waits for
its answer, as a visitor who drew a digit and moved on; --every-tab then opens every tab of the
page once (a visitor who looked around) before the measured one; the requests the idle page sends
are counted too, uploads apart (a drawing sent again), and the animation frames it asks for a second;
the CPU is split by chromium's process kind (the renderer runs the page's script, the GPU process
draws it). --loader-timer measures each tab also without ui/static/frames.js, just before it: the
timer loop of the status tracker over Gradio's loading page then runs for the page's life. --baseline measures each tab
also as before issue 34's idle work (the page's load event outputs the Tabs again, and PixiJS's
ticker is never paused: ui/static/page.js), just before it.
(docs/performance-cpu.md, "The idle page", has its figures.) The browser is software-rendered
(--disable-gpu), as on a machine with no GPU; its CPU time hardly depends on other load, its wall
clock does (events still running when the quiet spell starts are measured in it).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import common  # noqa: F401
from app_vs_cli import CHROMIUM_ARGS, _cpu, browser_cpu, chromium_processes, launch
from common import header, table


def cpu_by_kind() -> dict[str, float]:
    """CPU seconds of this process's chromium processes, by kind (browser, renderer, gpu-process, ...)."""
    kinds: dict[str, float] = {}
    for pid, kind in chromium_processes.ours().items():
        kinds[kind] = kinds.get(kind, 0.0) + _cpu(f"/proc/{pid}/stat")
    return kinds


def idle_cpu(page, seconds: float) -> tuple[float, dict[str, float]]:
    """Chromium's CPU seconds over `seconds` of wall time, per second: all its processes (this
    process's), and by kind."""
    c0, k0, t0 = browser_cpu(), cpu_by_kind(), time.perf_counter()
    page.wait_for_timeout(seconds * 1000)
    c1, k1, dt = browser_cpu(), cpu_by_kind(), time.perf_counter() - t0
    return (c1 - c0) / dt, {k: (v - k0.get(k, 0.0)) / dt for k, v in k1.items()}


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
    for name in TABS:  # (no_wait_after: a busy page's click need not wait for its navigation check)
        page.get_by_role("tab", name=name).click(no_wait_after=True)
        page.wait_for_timeout(1000)


# Counts the page's requestAnimationFrame calls: a page that asks for frames makes chromium draw ~60
# a second even when nothing changes (Gradio's page loader leaves one such loop running: the docs).
COUNT_FRAMES = """(() => { window.__frames = 0; const ask = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (f) => { window.__frames++; return ask(f); }; })()"""

# The baseline's page: ui/static/page.js cannot set PixiJS's init hook, so nothing pauses its ticker.
NO_TICKER_PAUSE = "Object.defineProperty(window, '__PIXI_APP_INIT__', {get: () => undefined, set: () => {}})"


def old_share_link_tab(on: bool) -> None:
    """The baseline before issue 34's idle work: the page's load event outputs the Tabs again
    (gr.Tabs(selected=) for a share link, skipped without one), which kept them among Gradio's
    loading statuses (and `measure` keeps page.js from pausing PixiJS's ticker)."""
    import gradio as gr

    from ui import design_link_open

    wire = getattr(design_link_open, "_new_wire", design_link_open.wire)
    design_link_open._new_wire = wire
    if not on:
        design_link_open.wire = wire
        return

    def old_wire(page, editor, settings, box):
        wire(page, editor, settings, box)
        tabs = next(b for b in page.blocks.values() if isinstance(b, gr.Tabs))
        page.load(lambda: gr.skip(), None, tabs, api_visibility="private", show_progress="hidden")

    design_link_open.wire = old_wire


def measure(pw, exe: str, tab: str | None, args) -> dict:
    """CPU cores the browser keeps busy on `tab` (None: a blank page), by process kind, the requests
    the page sent and how many of them were uploads."""
    import ui.launch

    frames_js = ui.launch.FRAMES_JS
    ui.launch.FRAMES_JS = "" if args.no_frames_js_now else frames_js  # the baseline: the loader's timer runs
    try:
        demo, url = launch(Path(tempfile.mkdtemp(prefix="browser-idle-")) / "runs")
    finally:
        ui.launch.FRAMES_JS = frames_js
    try:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(120_000)  # (the machine may be shared and slow)
        page.add_init_script(COUNT_FRAMES)
        if args.baseline_now:
            page.add_init_script(NO_TICKER_PAUSE)
        if tab is None:
            page.goto("about:blank")
        else:
            page.goto(url)
            page.locator("#sketch canvas").first.wait_for(timeout=60_000)
            if args.after_stroke:
                stroke(page)
            if args.every_tab:
                open_every_tab(page)
            page.get_by_role("tab", name=tab).click(no_wait_after=True)
        page.wait_for_timeout(args.settle * 1000)
        sent = []
        page.on("request", lambda r: sent.append(r.url))
        frames0 = page.evaluate("window.__frames")
        cores, kinds = idle_cpu(page, args.seconds)
        frames = (page.evaluate("window.__frames") - frames0) / args.seconds
        browser.close()
    finally:
        demo.close()
    uploads = sum("/upload" in u for u in sent)
    return {"cores": cores, "kinds": kinds, "sent": len(sent), "uploads": uploads, "frames": frames}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--settle", type=float, default=5)
    p.add_argument("--tabs", default="Train,Draw")
    p.add_argument("--after-stroke", action="store_true", help="draw one stroke on the Draw tab first")
    p.add_argument("--every-tab", action="store_true", help="open every tab once before the measured one")
    p.add_argument("--baseline", action="store_true", help="each tab also as before the idle work, just before it")
    p.add_argument(
        "--loader-timer", action="store_true", help="each tab also without ui/static/frames.js, just before it"
    )
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    header("the browser's CPU while the page sits idle")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    rows = []
    with sync_playwright() as pw:
        cases = [("about:blank (floor)", None, False, False)]
        for t in args.tabs.split(","):
            if args.baseline:
                cases.append((f"the app, {t} tab, before (load outputs the Tabs, no ticker pause)", t, True, False))
            if args.loader_timer:
                cases.append((f"the app, {t} tab, before (the loader's timer runs: no frames.js)", t, False, True))
            cases.append((f"the app, {t} tab", t, False, False))
        for page, tab, old, no_frames_js in cases:
            old_share_link_tab(old)
            args.baseline_now, args.no_frames_js_now = old, no_frames_js
            m = measure(pw, exe, tab, args)
            kinds = ("renderer", "gpu-process", "browser")
            rows.append(
                {
                    "page": page,
                    "browser CPU (cores)": f"{m['cores']:.3f}",
                    f"CPU s per {args.seconds:g} s": f"{m['cores'] * args.seconds:.1f}",
                    "renderer / GPU process / browser (cores)": " / ".join(
                        f"{m['kinds'].get(k, 0.0):.3f}" for k in kinds
                    ),
                    "frames asked /s": f"{m['frames']:.0f}",
                    "requests sent": m["sent"],
                    "of them uploads": m["uploads"],
                }
            )
    drawn = ", after one stroke on the Draw tab" if args.after_stroke else ""
    drawn += ", with every tab opened once" if args.every_tab else ""
    print(f"idle {args.seconds:g} s after {args.settle:g} s on the tab{drawn}; chromium {CHROMIUM_ARGS}")
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
