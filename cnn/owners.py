"""Whose work a file is: with logins on, each user's runs and projects live in a folder of their own,
`<root>/users/<user>/`; without logins (owner None) everything stays in `<root>` itself, one person's
machine. A user name becomes a folder name, so only names that are safe as one are accepted."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import ConfigError

USERS_FOLDER = "users"  # under the runs folder and the projects folder
# Letters, digits, '.', '_' and '-', starting with a letter or digit: never '..', a separator or a
# hidden name, the same folder on every file system (case differences are refused at startup).
OWNER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def checked_owner(name: str) -> str:
    """name, if it can be a user's folder name; else a ConfigError that says what is allowed."""
    if not isinstance(name, str) or not OWNER_NAME.fullmatch(name):
        raise ConfigError(
            f"The user name {name!r} cannot be a folder name: use 1-64 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit."
        )
    return name


def owner_folder(root: str | os.PathLike, owner: str | None) -> Path:
    """Where owner's files live under root: root itself without logins (owner None)."""
    root = Path(root)
    return root if owner is None else root / USERS_FOLDER / checked_owner(owner)


def foreign(path: str | os.PathLike, root: str | os.PathLike, owner: str | None) -> bool:
    """Whether path lies in another user's folder under root (never without logins: owner None)."""
    if owner is None:
        return False
    real, users = Path(path).resolve(), (Path(root) / USERS_FOLDER).resolve()
    return real.is_relative_to(users) and not real.is_relative_to(owner_folder(root, owner).resolve())
