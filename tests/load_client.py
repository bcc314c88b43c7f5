"""The load test's clients: N simulated users calling /predict_digit and /predict_photo in turn,
over Gradio's own HTTP API (upload, call, read the event stream), for a number of seconds.

    python tests/load_client.py URL DIGIT.png PHOTO.png CLIENTS SECONDS [PACE]

Prints one JSON line: the latencies (endpoint, seconds), the errors, the requests per client and
the CPU seconds this process used. PACE: seconds from the start of one request to the start of a
client's next (0: the next as soon as the answer is in, a closed loop).

Why not gradio_client: the clients share the 2-core VM with the server, and 16 gradio_client
threads used 13.3 CPU-s in a 10 s test against the server's 2.2 (AMD VM): the load generator,
not the app, took the cores. These asyncio clients, one thread for all, used 1.8 CPU-s while the
server answered twice as many requests, so the figures measure the app. Each request still sends
its image, as a browser does.

Each user keeps one session hash for all their calls, as a browser page (and gradio_client) does.
Without one, Gradio makes a new session for every call and builds the state of every component of
the app for it: that took 59% of the server's event loop, and the 16 users' p95 went from 0.26 s
to about 1.1 s (docs/performance-load.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx


async def predict(client: httpx.AsyncClient, url: str, api: str, image: bytes, session: str) -> dict:
    """One prediction the way Gradio's HTTP API takes it: upload, call, then the event stream.
    `session` is the user's session hash, the same for all their calls."""
    up = await client.post(f"{url}gradio_api/upload", files={"files": ("image.png", image, "image/png")})
    up.raise_for_status()
    data = [{"path": up.json()[0], "meta": {"_type": "gradio.FileData"}}, ""]  # (no `run`: the shipped model)
    call = await client.post(f"{url}gradio_api/call/{api}", json={"data": data, "session_hash": session})
    call.raise_for_status()
    event = None
    async with client.stream("GET", f"{url}gradio_api/call/{api}/{call.json()['event_id']}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "complete":
                return json.loads(line[5:])[0]
            elif line.startswith("data:") and event == "error":
                raise RuntimeError(f"the app answered with an error: {line[5:].strip()}")
    raise RuntimeError(f"the event stream ended without a result (last event: {event})")


async def load(url: str, images: dict[str, bytes], clients: int, seconds: float, pace: float = 0.0) -> dict:
    latencies: list[tuple[str, float]] = []
    errors: list[str] = []
    counts = [0] * clients
    endpoints = list(images)
    deadline = time.perf_counter() + seconds

    async def user(k: int) -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            i, session = 0, uuid.uuid4().hex[:11]
            while (start := time.perf_counter()) < deadline:
                api = endpoints[(i + k) % len(endpoints)]
                try:
                    result = await predict(client, url, api, images[api], session)
                    ok = isinstance(result, dict) and len(result) == 10
                except Exception as exc:
                    ok, result = False, exc
                if ok:
                    latencies.append((f"/{api}", time.perf_counter() - start))
                else:
                    errors.append(f"/{api}: {result!r}")
                i += 1
                counts[k] = i
                await asyncio.sleep(max(0.0, start + pace - time.perf_counter()))

    await asyncio.gather(*(user(k) for k in range(clients)))
    return {"latencies": latencies, "errors": errors, "per_client": counts}


def drawn_digit(path: Path) -> Path:
    """The digit the clients send (a 7 drawn black on a 400 x 400 white image), written to path."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (400, 400), 255)
    ImageDraw.Draw(im).line([(100, 80), (300, 80), (160, 330)], fill=0, width=28)
    im.save(path)
    return path


def run_clients(url: str, digit: Path, photo: Path, clients: int, seconds: float) -> dict:
    """This script's clients in another process (so that they do not share the caller's
    interpreter, which may be the server's): its JSON line, parsed."""
    out = subprocess.run(
        [sys.executable, __file__, url, str(digit), str(photo), str(clients), str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 300,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the load clients failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    url, digit, photo, clients, seconds, *rest = argv
    images = {"predict_digit": Path(digit).read_bytes(), "predict_photo": Path(photo).read_bytes()}
    t = os.times()
    out = asyncio.run(load(url, images, int(clients), float(seconds), float(rest[0]) if rest else 0.0))
    out["client_cpu_s"] = round(os.times().user + os.times().system - t.user - t.system, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
