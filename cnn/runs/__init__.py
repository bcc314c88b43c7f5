"""The app's training runs: one scheduler (`RunManager`) for every run of the process (Train, Teach,
continue training, the /train API), each run trained in a background thread of its own.

Up to `max_runs` runs train at once; the others wait (RunStatus.QUEUED) in the order they were asked
for, each with its place and an estimated wait, and start by themselves at their turn. One person
(a page's session, or a login's `owner`) has at most one run waiting or training (`RunBusy` for a
second), and only that person can cancel or stop it. Each CPU run trains on its share of the cores,
and puts the process's thread count back when it ends (cnn.cpu_share). Every event is recorded as
data (ui.run_view presents it), and the result is saved under the runs directory (never over a
shipped checkpoint). `stop` ends a run between two steps, keeping the weights so far, and the kept
weights get a test-set evaluation. With `stop_unwatched_after`, a run started from a page (with a
session) that no page has looked at (`Run.viewed`) for that many seconds leaves the queue if it
waits, or stops the same way if it trains, so a run whose pages all went away does not hold the
device; a page that reloads keeps looking at it. Settings that cannot work (a model written for
other images than the data set's, a folder that is not there) are refused before anything is
queued. Out of memory and every other failure end the run with a message, and the next run starts.
Never imports Gradio.
"""

from .config import RunConfig, check_fits
from .manager import DEFAULT_RUNS_DIR, RunBusy, RunManager
from .run import Run

__all__ = ["RunConfig", "check_fits", "Run", "RunManager", "RunBusy", "DEFAULT_RUNS_DIR"]
