"""Who may log in: `CNN_AUTH` holds one or more `user:password` pairs, comma-separated, or names a file
of them (`CNN_AUTH=@path`, or `CNN_AUTH_FILE=path`: one pair per line, blank lines and lines starting
with '#' skipped). Each user name becomes that user's folder (cnn.owners), so names that are not
safe folder names, and two names that differ only in case, are refused at startup. A password may
hold ':' (the first one ends the name) but, in CNN_AUTH itself, not ','. No message ever shows a
password: a bad line is named by its number."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cnn.errors import ConfigError
from cnn.owners import checked_owner


class LoginError(ConfigError):
    """The logins cannot be read: the message says which entry and what is wrong (never a password)."""


def logins_from_env(environ: Mapping[str, str] = os.environ) -> list[tuple[str, str]] | None:
    """The (user, password) pairs of CNN_AUTH / CNN_AUTH_FILE, or None when neither is set (no logins)."""
    raw, path = environ.get("CNN_AUTH", "").strip(), environ.get("CNN_AUTH_FILE", "").strip()
    if raw and path:
        raise LoginError("Set CNN_AUTH or CNN_AUTH_FILE, not both.")
    if raw.startswith("@"):
        path, raw = raw[1:].strip(), ""
    if path:
        return parse_logins(_read(path), f"the logins file {path}", "line")
    if raw:
        return parse_logins(raw.split(","), "CNN_AUTH", "entry")
    return None


def _read(path: str) -> list[str]:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LoginError(f"Cannot read the logins file {path}: {type(exc).__name__}.") from None


def parse_logins(entries: list[str], source: str, unit: str) -> list[tuple[str, str]]:
    """(user, password) for each entry `user:password`; in a file, blank and '#' lines are skipped."""
    pairs, seen = [], {}
    for n, entry in enumerate(entries, 1):
        text = entry.strip()
        if unit == "line" and (not text or text.startswith("#")):
            continue
        user, sep, password = text.partition(":")
        user = user.strip()
        if not sep or not user or not password:
            raise LoginError(f"{source}, {unit} {n}: each login must look like user:password.")
        try:
            checked_owner(user)
        except ConfigError as exc:
            raise LoginError(f"{source}, {unit} {n}: {exc}") from None
        if user.casefold() in seen:
            raise LoginError(
                f"{source}, {unit} {n}: the user {user!r} is there already ({seen[user.casefold()]!r}); "
                f"user names must differ in more than letter case (each is a folder)."
            )
        seen[user.casefold()] = user
        pairs.append((user, password))
    if not pairs:
        raise LoginError(f"{source} holds no logins; write one user:password per {unit}.")
    return pairs
