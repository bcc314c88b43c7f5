"""A class and a troublemaker (issue 31): the app with logins and --max-runs 1, in a process of its
own; meanwhile, at once:

- 29 learners, one login each, queue a quick MNIST run through /train and wait for its result;
- a troublemaker (a login of their own) opens 10 fresh sessions and asks each for 10^6 epochs,
  sends 200 images whose header claims 50 megapixels to /predict_digit, and imports a crafted
  1 KB checkpoint (a design of 200 million parameters) through the Runs tab's private upload event,
  called over HTTP as a script would;
- one learner draws: /predict_digit every 0.25 s, from a process of their own.

    python bench/class_load.py [--learners 29] [--train-subset 2000] [--epochs 1]

Targets: every queued run finishes with 0 errors; every troublemaker's attempt gets a clear refusal;
the drawing learner's p95 at most 500 ms; the server's peak memory (VmHWM) within 1 GiB of its idle
memory (VmRSS after start and a first prediction)."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import common  # noqa: F401  (sets the data directory)
from common import header
from train_api_load import drawing_person, free_port, percentiles

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from app_helpers import claimed_png  # noqa: E402
from load_client import drawn_digit  # noqa: E402
from page_client import Page  # noqa: E402


def start(tmp: Path, learners: int) -> tuple:
    """The app with learners + 2 logins (learnerNN, trouble, drawer): (process, url, logins)."""
    import subprocess

    import httpx

    logins = {f"learner{i:02d}": f"pw-{i}-x" for i in range(learners)} | {"trouble": "pw-t", "drawer": "pw-d"}
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
    env["CNN_AUTH"] = ",".join(f"{u}:{p}" for u, p in logins.items())
    port = free_port()
    cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--max-runs", "1", "--device", "cpu"]
    cmd += ["--runs-dir", str(tmp / "runs"), "--max-train-images", "2000000", "--max-run-minutes", "30"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url, deadline = f"http://127.0.0.1:{port}/", time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(url + "config", timeout=2).status_code in (200, 401):
                return proc, url, logins
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the app did not answer within 180 s")


def memory_kib(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def learner(url, auth, settings, results, errors):
    from gradio_client import Client

    try:
        result, _ = Client(url, auth=auth, verbose=False).submit(**settings, api_name="/train").result(timeout=3600)
        (results if result.get("status") == "finished" else errors).append(result)
    except Exception as exc:  # counted: the figure is how many failed
        errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")


def troublemaker(url, auth, tmp: Path, refusals: dict) -> None:
    """Each attempt's answer, by kind: refused with a message (the message kept) or let through."""
    from gradio_client import Client, handle_file

    def attempt(kind, fn):
        try:
            fn()
            refusals.setdefault(kind, []).append("NOT REFUSED")
        except Exception as exc:
            refusals.setdefault(kind, []).append(str(exc)[:160])

    for _ in range(10):  # fresh sessions, each asking for a million epochs
        client = Client(url, auth=auth, verbose=False)
        attempt("10^6 epochs", lambda c=client: c.predict(dataset="mnist", epochs=1e6, api_name="/train"))
    big = tmp / "claims-50mp.png"
    big.write_bytes(claimed_png(10_000, 5_000))
    client = Client(url, auth=auth, verbose=False)
    for _ in range(200):
        attempt("50 MP image", lambda: client.predict(handle_file(str(big)), "", api_name="/predict_digit"))
    attempt("crafted checkpoint", lambda: upload_crafted(url, auth, tmp))


def upload_crafted(url: str, auth, tmp: Path) -> None:
    """The Runs tab's private upload event, called by fn_index over HTTP with a 1 KB checkpoint."""
    import torch
    from safetensors.torch import save_file

    path = tmp / "crafted.safetensors"
    design = [{"layer": "Flatten"}, {"layer": "Linear", "out_features": 65536}, {"layer": "Linear"}]
    meta = {"architecture": "design", "input_shape": [3, 32, 32], "design": design, "classes": list("abcdefghij")}
    meta["normalization"] = {"mean": [0.5] * 3, "std": [0.5] * 3}
    save_file({"x": torch.zeros(1)}, str(path), metadata={"cnn_playground": json.dumps(meta)})
    page = Page(url, auth)
    try:
        up = page.http.post("gradio_api/upload", files={"files": (path.name, path.read_bytes())}).json()[0]
        config = page.http.get("config").json()
        box = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "runs-upload")
        index = next(d["id"] for d in config["dependencies"] if [box, "upload"] in d["targets"])
        ok, out = page.call(index, {"path": up, "meta": {"_type": "gradio.FileData"}}, [])
        if not ok:
            raise RuntimeError(out)
    finally:
        page.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--learners", type=int, default=29)
    p.add_argument("--train-subset", type=int, default=2000)
    p.add_argument("--epochs", type=float, default=1)
    args = p.parse_args()
    header("A class and a troublemaker (bench/class_load.py)")
    settings = dict(dataset="mnist", model="mnist_fast", epochs=args.epochs, train_subset=args.train_subset)
    settings["test_subset"] = 500
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        proc, url, logins = start(tmp, args.learners)
        try:
            report(run_class(args, settings, tmp, proc, url, logins))
        finally:
            proc.terminate()
            proc.wait(30)


def run_class(args, settings, tmp, proc, url, logins) -> dict:
    digit = tmp / "digit.png"
    drawn_digit(digit)
    mp = multiprocessing.get_context("spawn")
    stop, answers = mp.Event(), mp.Queue()
    drawing = mp.Process(target=drawing_person, args=(url, str(digit), stop, answers, ("drawer", logins["drawer"])))
    drawing.start()
    answers.get(timeout=120)  # the first answer: the server is warm
    idle = memory_kib(proc.pid, "VmRSS")
    results, errors, refusals = [], [], {}
    threads = [
        threading.Thread(target=learner, args=(url, (u, logins[u]), settings, results, errors))
        for u in logins
        if u.startswith("learner")
    ]
    threads.append(threading.Thread(target=troublemaker, args=(url, ("trouble", logins["trouble"]), tmp, refusals)))
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    stop.set()
    drawing.join(30)
    latencies, draw_errors = [], []
    while not answers.empty():
        _, s, err = answers.get()
        (latencies.append(s) if s is not None else draw_errors.append(err))
    peak = memory_kib(proc.pid, "VmHWM")
    return dict(
        results=results, errors=errors, refusals=refusals, wall=wall, latencies=latencies, draw_errors=draw_errors,
        idle=idle, peak=peak, learners=args.learners,
    )  # fmt: skip


def report(r: dict) -> None:
    p50, p95 = percentiles(r["latencies"])
    print(f"queued runs finished: {len(r['results'])} of {r['learners']}; errors: {len(r['errors'])}")
    for e in r["errors"][:5]:
        print(f"  error: {e}")
    for kind, answers in r["refusals"].items():
        through = sum(a == "NOT REFUSED" for a in answers)
        print(f"troublemaker, {kind}: {len(answers)} attempts, {len(answers) - through} refused; e.g. {answers[0]!r}")
    print(f"drawing learner: {len(r['latencies'])} answers, p50 {p50} ms, p95 {p95} ms, errors {len(r['draw_errors'])}")
    print(f"server memory: idle {r['idle'] / 1024:.0f} MiB, peak {r['peak'] / 1024:.0f} MiB, ")
    print(f"  peak - idle {(r['peak'] - r['idle']) / 1024:.0f} MiB; wall {r['wall']:.0f} s")


if __name__ == "__main__":
    main()
