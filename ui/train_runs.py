"""The run the Train tab shows a person: their own Train run, never their Teach run (issue 36: the
Train tab showed a Teach run's "epoch 200.00"). The run scheduler (cnn.runs) remembers one latest
run a person, whichever tab started it; the page remembers the Train runs it started, here."""

from __future__ import annotations

import threading
import weakref

from cnn.runs import RunManager

_lock = threading.Lock()
# per scheduler: ("session" | "owner", who) -> the latest run the Train tab started for them
_started: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def is_teach(run) -> bool:
    return getattr(run.config, "project", None) is not None


def remember(runs: RunManager, run, session: str | None, owner: str | None) -> None:
    """A run the Train tab started for this person (their browser's token, their login)."""
    with _lock:
        mine = _started.setdefault(runs, {})
        for key in (("session", session), ("owner", owner)):
            if key[1] is not None:
                mine[key] = run


def train_run_for(runs: RunManager, session: str | None, owner: str | None):
    """The run the Train tab shows this person: the one waiting or training, else their latest,
    unless it is a Teach run; then the last Train run this app started for them (or None)."""
    run = runs.run_for(session, owner)
    if run is None or not is_teach(run):
        return run
    with _lock:
        mine = _started.get(runs, {})
        kept = [mine.get(k) for k in (("session", session), ("owner", owner)) if k[1] is not None]
    kept = [r for r in kept if r is not None]
    return max(kept, key=lambda r: r.started_at) if kept else None
