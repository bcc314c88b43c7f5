"""The flags that serve a class: what one run may ask (cnn.runs.limits), who is who (logins,
teachers, per-browser identities: ui.identity), and whether others can reach the app at all."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cnn.runs import CLASS_LIMITS, RunLimits

from .identity import Identity


def people_flags(p: argparse.ArgumentParser) -> None:
    """Who is who: the teacher's logins, per-browser identities without logins (ui.identity)."""
    p.add_argument(
        "--admins",
        default=os.environ.get("CNN_ADMINS", ""),
        metavar="LOGINS",
        help="comma-separated logins (of CNN_AUTH) that see and stop every run in the Teacher tab "
        "(default: $CNN_ADMINS)",
    )
    p.add_argument(
        "--per-browser",
        action="store_true",
        help="without logins, give each browser its own runs and projects and count each client address "
        "as one person (the default when others can reach the app: --host not loopback, or --share)",
    )
    p.add_argument(
        "--trust-proxy",
        action="store_true",
        help="behind a reverse proxy: take the client's address from the X-Forwarded-For entry it appends",
    )


def limits_flags(p: argparse.ArgumentParser) -> None:
    """What one run may ask (cnn.runs.limits): unlimited on an app only this computer reaches,
    CLASS_LIMITS on one others can reach (--host not loopback, or --share); 0 turns one off."""
    c = CLASS_LIMITS
    p.add_argument(
        "--max-train-images",
        type=float,
        default=None,
        metavar="N",
        help=f"epochs x training images one run may ask for (default {c.max_train_images:,.0f} when others can "
        f"reach the app, else no limit; 0: none)",
    )
    p.add_argument(
        "--max-run-minutes",
        type=float,
        default=None,
        metavar="M",
        help=f"a run stops, keeping its weights, after this long (default {c.max_seconds / 60:g} when others "
        f"can reach the app, else no limit; 0: none)",
    )
    p.add_argument(
        "--max-kept-runs",
        type=int,
        default=None,
        metavar="N",
        help=f"runs one person keeps (default {c.max_kept} when others can reach the app, else no limit; 0: none)",
    )


def reachable(args: argparse.Namespace) -> bool:
    """Whether computers other than this one can reach the app (through a proxy: --trust-proxy)."""
    return bool(args.share or args.trust_proxy) or args.host not in ("127.0.0.1", "localhost", "::1")


def run_limits(args: argparse.Namespace) -> RunLimits:
    """The limits from the flags, with CLASS_LIMITS's where a flag is not given and others can reach the app."""
    base = CLASS_LIMITS if reachable(args) else RunLimits()

    def pick(flag, default, scale=1.0):
        if flag is None:
            return default
        return flag * scale if flag > 0 else None

    return RunLimits(
        max_train_images=pick(args.max_train_images, base.max_train_images),
        max_seconds=pick(args.max_run_minutes, base.max_seconds, 60.0),
        max_kept=pick(args.max_kept_runs, base.max_kept),
    )


def identity(args: argparse.Namespace, has_auth: bool) -> Identity | None:
    """Per-browser identities, on an app others can reach without logins (or with --per-browser)."""
    if has_auth or not (args.per_browser or reachable(args)):
        return None
    return Identity(Path(args.runs_dir) / ".identity-secret", trust_proxy=args.trust_proxy)


def admins(args: argparse.Namespace, auth) -> frozenset:
    """--admins, each a login of CNN_AUTH (a name that is not one ends the program with a message)."""
    names = frozenset(n.strip() for n in str(args.admins or "").split(",") if n.strip())
    unknown = names - {user for user, _ in auth or ()}
    if unknown:
        sys.exit(f"error: --admins names {', '.join(sorted(unknown))}, not a login of CNN_AUTH")
    return names
