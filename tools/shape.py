"""The code's shape: every function at most 60 lines and every file at most 350, in cnn/, ui/,
bench/, tests/, tools/ and app.py (all the Python the project keeps; docs/testing.md, "Shape").

    python tools/shape.py [--root DIR] [--known FILE] [--update]

Prints the longest function and the largest file, then every breach, and exits 1 when the shape
got worse. The breaches that were there before the check are listed, each with its size, in
tools/shape_known.txt; that list may only shrink. The check fails for a breach the list does not
name, for a listed one that has grown, and for a listed one that is no longer over (take its line
out: the list stays honest). A listed one that shrank but is still over only earns a note;
--update writes the shrunk sizes into the list (it never adds a breach). A function's length is
its `def` line to its last line, decorators left out; nested functions count in their parent too.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCOPE = ("cnn", "ui", "bench", "tests", "tools", "app.py")
FUNCTION_LIMIT = 60
FILE_LIMIT = 350
KNOWN = Path("tools") / "shape_known.txt"


def python_files(root: Path) -> list[Path]:
    found = []
    for name in SCOPE:
        path = root / name
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [p for p in found if ".scratch" not in p.parts]


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, lines) of every function in `tree`, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                yield name, node.end_lineno - node.lineno + 1
            yield from _functions(node, name + ".")
        else:
            yield from _functions(node, prefix)


def sizes(root: Path) -> tuple[dict[str, int], dict[str, int]]:
    """({file: lines}, {"file:function": lines}) over the scope, paths relative to `root`."""
    files, functions = {}, {}
    for path in python_files(root):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        files[rel] = len(text.splitlines())
        for name, lines in _functions(ast.parse(text, filename=rel)):
            key = f"{rel}:{name}"
            functions[key] = max(lines, functions.get(key, 0))  # a name defined twice: the longer
    return files, functions


def breaches(root: Path) -> dict[str, int]:
    """Everything over its limit: {file or file:function: lines}."""
    files, functions = sizes(root)
    over = {k: n for k, n in files.items() if n > FILE_LIMIT}
    over.update({k: n for k, n in functions.items() if n > FUNCTION_LIMIT})
    return over


def read_known(path: Path) -> dict[str, int]:
    """The list of known breaches: one `name lines` a line; `#` starts a comment."""
    known = {}
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        line = line.split("#", 1)[0].strip()
        if line:
            name, lines = line.rsplit(None, 1)
            known[name] = int(lines)
    return known


def judge(over: dict[str, int], known: dict[str, int]) -> tuple[list[str], list[str]]:
    """(failures, notes): what got worse, and what shrank but is still over."""
    failures, notes = [], []
    for name, lines in sorted(over.items()):
        limit = FILE_LIMIT if ":" not in name else FUNCTION_LIMIT
        if name not in known:
            failures.append(f"new breach: {name} is {lines} lines (limit {limit}); split it")
        elif lines > known[name]:
            failures.append(f"grown: {name} is {lines} lines, listed at {known[name]}; it may only shrink")
        elif lines < known[name]:
            notes.append(f"shrunk: {name} is {lines} lines, listed at {known[name]} (--update lowers the list)")
    for name in sorted(set(known) - set(over)):
        failures.append(f"no longer over: {name} (listed at {known[name]}); take its line out of {KNOWN}")
    return failures, notes


def write_known(path: Path, over: dict[str, int], known: dict[str, int]) -> None:
    """The list with each still-over breach at its current size; new breaches are not added."""
    head = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
    kept = [f"{name} {over[name]}" for name in sorted(known) if name in over]
    path.write_text("\n".join(head + kept) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", type=Path, default=ROOT, help="the tree to check (default: this one)")
    p.add_argument("--known", type=Path, help=f"the list of known breaches (default: ROOT/{KNOWN})")
    p.add_argument("--update", action="store_true", help="lower the listed sizes to the current ones")
    args = p.parse_args(argv)
    known_path = args.known or args.root / KNOWN
    files, functions = sizes(args.root)
    longest = max(functions.items(), key=lambda kv: kv[1], default=("(none)", 0))
    largest = max(files.items(), key=lambda kv: kv[1], default=("(none)", 0))
    print(f"longest function: {longest[0]}, {longest[1]} lines (limit {FUNCTION_LIMIT})")
    print(f"largest file: {largest[0]}, {largest[1]} lines (limit {FILE_LIMIT})")
    over, known = breaches(args.root), read_known(known_path)
    print(f"{len(over)} over the limits, {len(known)} listed as known in {known_path.name}")
    if args.update:
        write_known(known_path, over, known)
        known = read_known(known_path)
    failures, notes = judge(over, known)
    for line in notes + failures:
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
