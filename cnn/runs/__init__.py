"""The app's training runs, in two parts with one job each:

- the scheduler (`scheduler.RunManager`): what is fair. Up to `max_runs` runs train at once; the
  others wait (RunStatus.QUEUED) in the order they were asked for, each with its place and an
  estimated wait, and start by themselves at their turn. One person (a page's session, or a login's
  `owner`) has at most one run waiting or training (`RunBusy` for a second), and only that person (or
  the app itself: a teacher's panel) can cancel or stop it. Settings that cannot work, or ask beyond
  the limits (`limits.RunLimits`), are refused before anything is queued. A run past its time limit,
  or started from a page that no page has looked at for `stop_unwatched_after` seconds, stops.
- the executor (`executor.LocalExecutor`, or `ray_executor.RayExecutor` with `--ray`): what a run
  does once its turn comes. It loads the data, trains on the thread count the scheduler chose, saves
  the weights (a stopped run's before its test), records every event as data (ui.run_view presents
  it), and ends every failure with a message (`executor.end_failed`). A Ray worker runs the same
  LocalExecutor.

Never imports Gradio.
"""

from .config import RunConfig, check_fits
from .executor import LocalExecutor
from .limits import CLASS_LIMITS, NO_LIMITS, RunLimits
from .run import Run
from .scheduler import DEFAULT_RUNS_DIR, RunBusy, RunManager

__all__ = [
    "RunConfig",
    "check_fits",
    "Run",
    "RunManager",
    "RunBusy",
    "DEFAULT_RUNS_DIR",
    "LocalExecutor",
    "RunLimits",
    "CLASS_LIMITS",
    "NO_LIMITS",
]
