"""Many people training at once: N simulated people over HTTP, each starting a quick MNIST run
through the app's /train endpoint (gradio_client, one client session each: one person each), with the
app's --max-runs M; against the same N runs one after another from the command line
(python -m cnn.train, a fresh process each), side by side in one invocation. Meanwhile one more
person keeps asking /predict_digit (from a process of their own), and its latency is the Draw tab's
while the runs train.

    python bench/train_api_load.py [--people 8] [--max-runs 2] [--train-subset 4000] [--epochs 1]
                                   [--test-subset 500] [--device cpu] [--order app,cli]

--max-runs takes a list (--max-runs 1,2,3,4): the app part runs once per value, which is how to choose
the app's default on a GPU (ui/launch.py GPU_MAX_RUNS: the smallest M whose total time is within a
few percent of the best). The app runs in another process (python app.py), so that neither the clients
nor the CLI runs share its interpreter; its start is not timed. Reported: each part's wall time (the
first /train asked for to the last result; the CLI: the first process started to the last ended),
the runs that ended with a checkpoint, errors, and /predict_digit's p50/p95 during the app's runs and,
the baseline, in the --alone seconds before them (the same app and client, nothing training).
--nice sets the niceness the app's CPU runs train at ($CNN_RUN_NICE; a list compares them: 0 is the
normal priority, the baseline).
Targets (issue 24): all N with checkpoints and 0 errors, the app within 1.2x of the CLI's wall time,
/predict_digit p95 under 300 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common  # noqa: F401  (sets the data directory)
from common import header, table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from load_client import drawn_digit  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(max_runs: int, device: str, runs_dir: Path, nice: str = "") -> tuple[subprocess.Popen, str]:
    """The app in another process (nice: its $CNN_RUN_NICE, "" the default); (the process, its URL)
    once it answers."""
    import httpx

    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
    if nice:
        env["CNN_RUN_NICE"] = nice
    cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--max-runs", str(max_runs)]
    cmd += ["--device", device, "--runs-dir", str(runs_dir)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url, deadline = f"http://127.0.0.1:{port}/", time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app did not start:\n{proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(url + "config", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the app did not answer within 180 s")


def percentiles(latencies: list) -> tuple[str, str]:
    """(p50, p95) in ms, as the table shows them."""
    if len(latencies) < 2:
        return "", ""
    q = statistics.quantiles([x * 1000 for x in latencies], n=20)
    return f"{statistics.median(latencies) * 1000:.0f}", f"{q[18]:.0f}"


def drawing_person(url: str, digit: str, stop, answers, auth=None) -> None:
    """The person who draws (a process of their own): asks /predict_digit every 0.25 s until `stop`,
    putting (asked at, time.time(); seconds to the answer or None; error or "") on `answers`;
    auth: their (login, password) on an app with logins."""
    from gradio_client import Client, handle_file

    client = Client(url, auth=auth, verbose=False)
    while not stop.is_set():
        t, start = time.time(), time.perf_counter()
        try:
            client.predict(handle_file(digit), api_name="/predict_digit")
            answers.put((t, time.perf_counter() - start, ""))
        except Exception as exc:
            answers.put((t, None, f"/predict_digit: {exc}"))
        time.sleep(0.25)


def train_all(clients: list, settings: dict, runs_dir: Path) -> tuple[list, list]:
    """Each client asks /train for a run at once and waits for its end: (results with a checkpoint,
    errors)."""
    results, errors = [], []

    def person(client):
        try:
            result, _ = client.submit(**settings, api_name="/train").result(timeout=3600)
            if (runs_dir / result["checkpoint"]).is_file():
                results.append(result)
            else:
                errors.append(f"no checkpoint: {result}")
        except Exception as exc:  # counted, not raised: the figure is how many failed
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=person, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def app_part(args, max_runs: int, digit: Path, nice: str = "") -> dict:
    from gradio_client import Client

    settings = dict(
        dataset="mnist",
        model="mnist_fast",
        recipe="mnist_fast",
        epochs=args.epochs,
        train_subset=args.train_subset,
        test_subset=args.test_subset,
    )
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(tmp) / "runs"
        proc, url = start_app(max_runs, args.device, runs_dir, nice)
        try:
            clients = [Client(url, verbose=False) for _ in range(args.people)]  # one session each
            # the person who draws is another person: a process of their own, so that what is timed is
            # the app's answer, not this process's eight clients starting at once beside it
            mp = multiprocessing.get_context("spawn")
            stop, answers = mp.Event(), mp.Queue()
            drawing = mp.Process(target=drawing_person, args=(url, str(digit), stop, answers), daemon=True)
            drawing.start()
            first = answers.get(timeout=120)  # first alone: the baseline, with nothing training
            time.sleep(args.alone)
            t0 = time.time()
            results, errors = train_all(clients, settings, runs_dir)
            wall = time.time() - t0
            stop.set()
            drawing.join(60)
            got = [first]
            while not answers.empty():
                got.append(answers.get())
            errors += [e for _, _, e in got if e]
            alone = [x for t, x, e in got if not e and t < t0]
            latencies = [x for t, x, e in got if not e and t >= t0]
            asked = [t for t, _, e in got if not e and t >= t0]
        finally:
            proc.terminate()
            proc.wait(30)
    accs = [r["test_accuracy"] for r in results]
    (p50, p95), (a50, a95) = percentiles(latencies), percentiles(alone)
    return {
        "part": f"app /train, --max-runs {max_runs}" + (f", runs at nice {nice}" if nice else ""),
        "wall s": f"{wall:.1f}",
        "with checkpoint": f"{len(results)} of {args.people}",
        "errors": len(errors),
        "test acc (mean)": f"{statistics.mean(accs):.3f}" if accs else "",
        "predict p50 ms": p50,
        "predict p95 ms": p95,
        "predictions": len(latencies),
        "alone p50/p95 ms": f"{a50}/{a95} ({len(alone)})",
        "_latencies": latencies,
        "_slowest": sorted(((x, t - t0) for x, t in zip(latencies, asked)), reverse=True)[:3],
        "_wall": wall,
        "_errors": errors,
    }


def cli_part(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        walls, ok, errors = [], 0, []
        t0 = time.perf_counter()
        for i in range(args.people):
            out = Path(tmp) / f"cli-{i}.safetensors"
            cmd = [sys.executable, "-m", "cnn.train", "--dataset", "mnist", "--model", "mnist_fast"]
            cmd += ["--recipe", "mnist_fast", "--epochs", str(args.epochs), "--train-subset", str(args.train_subset)]
            cmd += ["--test-subset", str(args.test_subset), "--device", args.device, "--quiet", "--out", str(out)]
            t = time.perf_counter()
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
            walls.append(time.perf_counter() - t)
            if p.returncode == 0 and out.is_file():
                ok += 1
            else:
                errors.append(p.stderr[-500:])
        wall = time.perf_counter() - t0
    return {
        "part": "CLI, one after another",
        "wall s": f"{wall:.1f}",
        "with checkpoint": f"{ok} of {args.people}",
        "errors": len(errors),
        "_wall": wall,
        "_errors": errors,
        "_each": walls,
    }


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--people", type=int, default=8)
    p.add_argument("--max-runs", default="2", help="the app's --max-runs; a list (1,2,3) runs the app part for each")
    p.add_argument("--train-subset", type=int, default=4000)
    p.add_argument("--test-subset", type=int, default=500)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--alone", type=float, default=6.0, help="seconds of /predict_digit before the runs (the baseline)")
    p.add_argument(
        "--nice",
        default="",
        help="the app's $CNN_RUN_NICE (its CPU runs' niceness; 0: normal priority); a list (0,10) runs the app part "
        "for each; empty: the app's default (cnn/cpu_share.py RUN_NICE)",
    )
    p.add_argument(
        "--order", default="app,cli", help="which part runs first (app,cli or cli,app); 'app' alone skips the CLI"
    )
    return p.parse_args()


def main() -> None:
    args = parse_args()
    header("many people training at once: /train over HTTP against the CLI one after another")
    print(
        f"{args.people} people, each mnist_fast for {args.epochs:g} epoch(s) on {args.train_subset:,} MNIST images "
        f"(test {args.test_subset:,}), device {args.device}; one more person asks /predict_digit every 0.25 s"
    )
    digit = drawn_digit(Path(tempfile.mkdtemp()) / "seven.png")
    rows = []
    for part in args.order.split(","):
        if part == "app":
            rows += [
                app_part(args, int(m), digit, nice) for m in args.max_runs.split(",") for nice in args.nice.split(",")
            ]
        elif part == "cli":
            rows.append(cli_part(args))
    cli = next((r for r in rows if r["part"].startswith("CLI")), None)
    for r in rows:
        if cli is not None:
            r["vs CLI"] = f"{r['_wall'] / cli['_wall']:.2f}x"
    print(
        table(
            rows,
            [
                "part",
                "wall s",
                "vs CLI",
                "with checkpoint",
                "errors",
                "test acc (mean)",
                "predict p50 ms",
                "predict p95 ms",
                "predictions",
                "alone p50/p95 ms",
            ],
        )
    )
    if cli is not None:
        print("CLI runs' wall times (s, each a fresh process): " + ", ".join(f"{w:.1f}" for w in cli["_each"]))
    for r in rows:
        if r.get("_slowest"):
            slow = ", ".join(f"{x * 1000:.0f} ms at {t:.1f} s" for x, t in r["_slowest"])
            print(f"slowest predictions ({r['part']}; asked at, from the first /train): {slow}")
        for e in r["_errors"][:3]:
            print(f"error ({r['part']}): {e}")
    pooled: dict[str, list] = {}  # a p95 of ~20 predictions is their second slowest: pool the repeats
    for r in rows:
        if "_latencies" in r:
            pooled.setdefault(r["part"], []).extend(r["_latencies"])
    for part, xs in pooled.items():
        if sum(r["part"] == part for r in rows) > 1:
            p50, p95 = percentiles(xs)
            print(f"pooled over its repeats ({part}): /predict_digit p50 {p50} ms, p95 {p95} ms, {len(xs)} predictions")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
