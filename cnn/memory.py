"""The process's heap: how many malloc arenas glibc may keep (`limit_malloc_arenas`).

glibc gives a thread that allocates while another does an arena of its own, up to 8 per core, and
each arena keeps the pages it has freed. A server whose runs, requests and Gradio's workers move
between threads then holds the peak of every arena: on the 2-core VM, 20 quick /train runs after
the other API tests left the server 100 MiB bigger with the default, 1 MiB smaller with 2 arenas
(tests/test_train_api.py). Tensors large enough to matter are mmap'ed and unaffected."""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's malloc.h
SERVER_ARENAS = 2


def limit_malloc_arenas(arenas: int = SERVER_ARENAS) -> bool:
    """At most `arenas` malloc arenas from now on (glibc only; a MALLOC_ARENA_MAX the person set
    wins). Whether the limit was applied."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, int(arenas)))
    except (OSError, AttributeError):  # not glibc (macOS, musl): its own allocator's rules apply
        return False
