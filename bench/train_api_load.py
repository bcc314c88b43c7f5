"""Many people training at once: N simulated people over HTTP, each starting a quick MNIST run
through the app's /train endpoint (gradio_client, one client session each: one person each), with the
app's --max-runs M; against the same N runs one after another from the command line
(python -m cnn.train, a fresh process each), side by side in one invocation. Meanwhile one more
person keeps asking /predict_digit, and its latency is the Draw tab's while the runs train.

    python bench/train_api_load.py [--people 8] [--max-runs 2] [--train-subset 4000] [--epochs 1]
                                   [--test-subset 500] [--device cpu] [--order app,cli]

--max-runs takes a list (--max-runs 1,2,3,4): the app part runs once per value, which is how to choose
the app's default on a GPU (ui/launch.py GPU_MAX_RUNS: the smallest M whose total time is within a
few percent of the best). The app runs in another process (python app.py), so that neither the clients
nor the CLI runs share its interpreter; its start is not timed. Reported: each part's wall time (the
first /train asked for to the last result; the CLI: the first process started to the last ended),
the runs that ended with a checkpoint, errors, and /predict_digit's p50/p95 during the app's runs.
Targets (issue 24): all N with checkpoints and 0 errors, the app within 1.2x of the CLI's wall time,
/predict_digit p95 under 300 ms.
"""

from __future__ import annotations

import argparse
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


def start_app(max_runs: int, device: str, runs_dir: Path) -> tuple[subprocess.Popen, str]:
    """The app in another process; (the process, its URL) once it answers."""
    import httpx

    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
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


def app_part(args, max_runs: int, digit: Path) -> dict:
    from gradio_client import Client, handle_file

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
        proc, url = start_app(max_runs, args.device, runs_dir)
        try:
            clients = [Client(url, verbose=False) for _ in range(args.people)]  # one session each
            watcher = Client(url, verbose=False)
            results, errors, latencies = [], [], []
            done = threading.Event()

            def person(client):
                try:
                    result, _ = client.submit(**settings, api_name="/train").result(timeout=3600)
                    if (runs_dir / result["checkpoint"]).is_file():
                        results.append(result)
                    else:
                        errors.append(f"no checkpoint: {result}")
                except Exception as exc:  # counted, not raised: the figure is how many failed
                    errors.append(f"{type(exc).__name__}: {exc}")

            def draw():
                while not done.is_set():
                    t = time.perf_counter()
                    try:
                        watcher.predict(handle_file(str(digit)), api_name="/predict_digit")
                        latencies.append(time.perf_counter() - t)
                    except Exception as exc:
                        errors.append(f"/predict_digit: {exc}")
                    time.sleep(0.25)

            drawing = threading.Thread(target=draw, daemon=True)
            threads = [threading.Thread(target=person, args=(c,)) for c in clients]
            t0 = time.perf_counter()
            drawing.start()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            done.set()
            drawing.join()
        finally:
            proc.terminate()
            proc.wait(30)
    q = statistics.quantiles([x * 1000 for x in latencies], n=20) if len(latencies) >= 2 else [float("nan")] * 19
    accs = [r["test_accuracy"] for r in results]
    return {
        "part": f"app /train, --max-runs {max_runs}",
        "wall s": f"{wall:.1f}",
        "with checkpoint": f"{len(results)} of {args.people}",
        "errors": len(errors),
        "test acc (mean)": f"{statistics.mean(accs):.3f}" if accs else "",
        "predict p50 ms": f"{statistics.median(latencies) * 1000:.0f}" if latencies else "",
        "predict p95 ms": f"{q[18]:.0f}",
        "predictions": len(latencies),
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--people", type=int, default=8)
    p.add_argument("--max-runs", default="2", help="the app's --max-runs; a list (1,2,3) runs the app part for each")
    p.add_argument("--train-subset", type=int, default=4000)
    p.add_argument("--test-subset", type=int, default=500)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--order", default="app,cli", help="which part runs first (app,cli or cli,app); 'app' alone skips the CLI"
    )
    args = p.parse_args()
    header("many people training at once: /train over HTTP against the CLI one after another")
    print(
        f"{args.people} people, each mnist_fast for {args.epochs:g} epoch(s) on {args.train_subset:,} MNIST images "
        f"(test {args.test_subset:,}), device {args.device}; one more person asks /predict_digit every 0.25 s"
    )
    digit = drawn_digit(Path(tempfile.mkdtemp()) / "seven.png")
    rows = []
    for part in args.order.split(","):
        if part == "app":
            rows += [app_part(args, int(m), digit) for m in args.max_runs.split(",")]
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
            ],
        )
    )
    if cli is not None:
        print("CLI runs' wall times (s, each a fresh process): " + ", ".join(f"{w:.1f}" for w in cli["_each"]))
    for r in rows:
        for e in r["_errors"][:3]:
            print(f"error ({r['part']}): {e}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
