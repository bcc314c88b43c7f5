"""Who may train on what: a run's data named by a path (an image folder, a Teach project) must be
there, and with logins must not be another user's (refused in the words of a folder that is not
there, so that their names do not leak)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from ..data import resolve_data_dir
from ..data.sources import NAMED_SOURCES, checked_folder, named_source
from ..errors import DataError
from ..owners import foreign
from ..projects import project_folder
from ..projects.store import PROJECTS_FOLDER


def admit(config, owner: str | None, limits, data_dir, allow_any_path: bool, runs_dir: Path) -> None:
    """Every check a run's settings pass before it trains: the limits (cnn.runs.limits.RunLimits),
    then whose data it names. The scheduler applies it before a run is queued, and a Ray worker again
    before it trains, so a worker asked directly (not through this app) refuses the same runs."""
    limits.check(config)
    check_data(config, owner, data_dir, allow_any_path, runs_dir)


def check_data(config, owner: str | None, data_dir, allow_any_path: bool, runs_dir: Path) -> None:
    """Refuse, before the run is queued, a folder that is not there or is another user's."""
    if named_source(config.dataset) is not None:
        return
    where = str(config.dataset).strip()
    if config.project is not None:
        folder = project_folder(where, data_dir, allow_any_path)
        if folder is None or foreign_folder(folder, owner, data_dir, runs_dir):
            raise DataError(f"There is no project at {where}.")
        return
    folder = checked_folder(where, resolve_data_dir(data_dir), allow_any_path)
    if foreign_folder(folder, owner, data_dir, runs_dir):
        raise DataError(
            f"The folder {folder} does not exist. Check the path, or use one of {', '.join(NAMED_SOURCES)}."
        )


def check_dataset(dataset: str, owner: str | None, data_dir, allow_any_path: bool, runs_dir: Path) -> None:
    """The same check for a data set a run or a checkpoint names (its confusion view, continuing it)."""
    check_data(SimpleNamespace(dataset=dataset, project=None), owner, data_dir, allow_any_path, runs_dir)


def foreign_folder(folder: Path, owner: str | None, data_dir, runs_dir: Path) -> bool:
    """Whether folder lies in another user's projects or runs (never without logins)."""
    roots = (resolve_data_dir(data_dir) / PROJECTS_FOLDER, Path(runs_dir))
    return any(foreign(folder, root, owner) for root in roots)
