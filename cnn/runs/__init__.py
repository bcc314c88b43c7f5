"""The app's training runs: one at a time across all sessions, in a background thread.

`RunManager.start` refuses a second run while one is going (whoever started it), trains with
`cnn.training.train` in a thread, records every event as data (ui.run_view presents it), and
saves the result under the runs directory (never over a shipped checkpoint). `stop` ends a run
between two steps, keeping the weights so far, and the kept weights get a test-set evaluation.
With `stop_unwatched_after`, a run started from a page (with a session) that no page has
looked at (`Run.viewed`) for that many seconds stops the same way, so a run whose pages all went
away does not hold the device; a page that reloads keeps looking at it. Settings that cannot work (a model
written for other images
than the data set's, a folder that is not there) are refused before anything starts. Out of
memory and every other failure end the run with a message, and the next run can start. Never
imports Gradio.
"""

from .config import RunConfig, check_fits
from .manager import DEFAULT_RUNS_DIR, RunBusy, RunManager
from .run import Run

__all__ = ["RunConfig", "check_fits", "Run", "RunManager", "RunBusy", "DEFAULT_RUNS_DIR"]
