"""The package's layers, checked from the source (no imports run): every import of a project module
goes to the same or a lower layer, none hides in a function body, cnn never imports Gradio or the
UI, and the modules import each other without cycles.

    python -c "from tests.test_layers import problems; print(*problems('/some/copy'), sep='\\n')"

checks another tree; so does CNN_LAYERS_ROOT=/some/copy python -m pytest tests/test_layers.py.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cnn", "ui")

# Module (or package: it and everything under it) -> layer. A layer may import only from itself
# and the layers below. The longest matching name wins; "cnn" itself (cnn/__init__.py) matches
# only exactly: it imports cnn.errors alone.
LAYERS = {
    "cnn": 1,
    "cnn.errors": 1,
    "cnn.atomic": 1,
    "cnn.hardware": 1,
    "cnn.owners": 1,  # whose a run or project is: the per-user folders of logins
    "cnn.cpu_share": 1,  # training threads that fit the free CPU; predictions before training
    "cnn.cpu_count": 1,  # the CPUs this process may use (CPU set, cgroup quota)
    "cnn.memory": 1,  # the heap: how many malloc arenas a server keeps
    "cnn.limits": 1,  # what a person may send: image pixels, input shapes, classes, layers JSON
    "cnn.data": 2,
    "cnn.models": 2,
    "cnn.evaluation": 3,
    "cnn.calibration": 3,  # what a trained model's outputs are judged by
    "cnn.training": 4,
    "cnn.checkpoint": 5,
    "cnn.runlog": 5,  # a run's event log and TensorBoard scalars, beside its checkpoint
    "cnn.transfer": 5,  # a checkpoint's features as a new model's start (fine-tuning)
    "cnn.serving": 6,
    "cnn.runs": 7,
    "cnn.run_index": 7,  # every kept run, as a table
    "cnn.projects": 7,  # the Teach tab's own classes, as training data
    "cnn.cli": 8,
    "ui": 9,
}
# `python -m` entry points: they may import anything, and nothing imports them.
ENTRY_POINTS = {"cnn.train", "cnn.evaluate", "cnn.export", "cnn.augment", "cnn.models.__main__"}
ENTRY_LAYER = 10
# Packages of one layer that must not import each other.
SEPARATE = {"cnn.data": "cnn.models", "cnn.models": "cnn.data"}
FORBIDDEN_IN_CNN = ("gradio", "gradio_client", "ui")  # top-level names no cnn module may import


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (resolved, absolute)
    path: Path  # importing file
    line: int
    text: str  # the import statement as written
    in_function: bool
    type_checking: bool


def layer(module: str) -> int | None:
    if module in ENTRY_POINTS:
        return ENTRY_LAYER
    if module == "cnn":
        return LAYERS["cnn"]
    for name in sorted(LAYERS, key=len, reverse=True):
        if name != "cnn" and (module == name or module.startswith(name + ".")):
            return LAYERS[name]
    return None


def _package_of(module: str) -> str | None:
    """The SEPARATE package a module belongs to (cnn.data or cnn.models), if any."""
    return next((p for p in SEPARATE if module == p or module.startswith(p + ".")), None)


def modules(root: Path) -> dict[str, Path]:
    """Every project module under root: dotted name -> file."""
    found = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__pycache__"]
            if len(parts) != len(rel.parts):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, in_function=False, type_checking=False):
    """(import node, inside a function body, under `if TYPE_CHECKING:`) for every import in node."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function, type_checking
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, True, type_checking)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), in_function, True)
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), in_function, type_checking)
        else:
            yield from _walk(child, in_function, type_checking)


def imports(root: Path, known: dict[str, Path]) -> tuple[list[Import], list[str], dict[str, list[str]]]:
    """Project imports (resolved), problems found while resolving, and each module's third-party
    top-level names (for the gradio check)."""
    found, problems, others = [], [], {}
    for module, path in known.items():
        rel = path.relative_to(root)
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        try:
            tree = ast.parse(source, str(path))
        except SyntaxError as exc:
            problems.append(f"{rel}:{exc.lineno}: cannot be parsed: {exc.msg}")
            continue
        for node, in_function, type_checking in _walk(tree):
            text = lines[node.lineno - 1].strip()
            targets = []  # absolute names this statement imports
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    parts = package.split(".")
                    if node.level - 1 >= len(parts):
                        problems.append(f"{rel}:{node.lineno}: `{text}` goes above the top-level package")
                        continue
                    base = ".".join(parts[: len(parts) - (node.level - 1)])
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module
                # `from pkg import sub` imports the submodule pkg.sub; other names come from pkg itself
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
                targets = subs + ([base] if len(subs) < len(node.names) else [])
            for target in targets:
                top = target.split(".")[0]
                if top not in PACKAGES:
                    others.setdefault(module, []).append((top, node.lineno, text))
                    continue
                if target not in known:
                    problems.append(
                        f"{rel}:{node.lineno}: `{text}` imports {target}, which is no module of the project"
                    )
                    continue
                found.append(Import(module, target, rel, node.lineno, text, in_function, type_checking))
    return found, problems, others


def problems(root: str | os.PathLike | None = None) -> list[str]:
    """Every breach of the layering in the tree at root (default: this checkout), one line each."""
    root = Path(root or os.environ.get("CNN_LAYERS_ROOT") or ROOT).resolve()
    known = modules(root)
    out = [
        f"{p.relative_to(root)}: module {m} has no layer; add it to LAYERS in tests/test_layers.py"
        for m, p in known.items()
        if layer(m) is None
    ]
    found, resolve_problems, others = imports(root, known)
    out += resolve_problems
    for imp in found:
        where = f"{imp.path}:{imp.line}: `{imp.text}`"
        src, dst = layer(imp.source), layer(imp.target)
        if imp.in_function:
            out.append(
                f"{where}: imports project module {imp.target} inside a function body "
                f"(hides import cycles); import it at the top of {imp.source}"
            )
        if imp.target.split(".")[0] == "ui" and imp.source.split(".")[0] == "cnn":
            out.append(f"{where}: {imp.source} imports {imp.target}; nothing in cnn/ may import the UI")
        elif imp.target in ENTRY_POINTS and imp.source != imp.target:
            out.append(
                f"{where}: {imp.source} imports {imp.target}, a `python -m` entry point; "
                f"import what it wraps (cnn.cli.*) instead"
            )
        elif src is not None and dst is not None and dst > src:
            out.append(
                f"{where}: {imp.source} (layer {src}) imports {imp.target} (layer {dst}); "
                f"a layer may import only from itself and the layers below"
            )
        a, b = _package_of(imp.source), _package_of(imp.target)
        if a and b and a != b:
            out.append(f"{where}: {imp.source} imports {imp.target}; {a} and {b} must not import each other")
    for module, names in others.items():
        if module.split(".")[0] == "cnn":
            for top, line, text in names:
                if top in FORBIDDEN_IN_CNN:
                    out.append(
                        f"{known[module].relative_to(root)}:{line}: `{text}`: {module} imports {top}; "
                        f"nothing in cnn/ may import Gradio or the UI"
                    )
    out += cycles(found)
    return out


def cycles(found: list[Import]) -> list[str]:
    """Import cycles among the modules (imports under `if TYPE_CHECKING:` do not run, so do not count)."""
    graph: dict[str, list[Import]] = {}
    for imp in found:
        if not imp.type_checking and imp.source != imp.target:
            graph.setdefault(imp.source, []).append(imp)
    out, state, stack = [], {}, []  # state: 1 on the DFS stack, 2 done

    def visit(module: str) -> None:
        state[module] = 1
        for imp in graph.get(module, []):
            stack.append(imp)
            if state.get(imp.target) == 1:
                loop = stack[next(i for i, e in enumerate(stack) if e.source == imp.target) :]
                out.append(
                    "import cycle: "
                    + " -> ".join(f"{e.source} ({e.path}:{e.line}: `{e.text}`)" for e in loop)
                    + f" -> {imp.target}"
                )
            elif imp.target not in state:
                visit(imp.target)
            stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return out


def test_layers():
    found = problems()
    assert not found, "layering breached:\n" + "\n".join(found)


def test_the_check_sees_the_project():
    known = modules(ROOT)
    assert {"cnn", "cnn.errors", "cnn.data.folders", "cnn.training.trainer", "cnn.cli.train"} <= set(known)
    assert layer("cnn.models.__main__") == ENTRY_LAYER and layer("cnn.cli.train") == 8
    assert layer("cnn.serving.predictor") == 6 and layer("ui.anything") == 9 and layer("cnnx") is None


def test_the_check_finds_each_kind_of_breach(tmp_path):
    """A small tree with one breach of each kind: the checker must report every one (a checker that
    reports nothing would pass test_layers on any tree)."""
    files = {
        "cnn/__init__.py": "",
        "cnn/errors.py": "import cnn.training.engine\n",  # layer 1 importing layer 4: upward
        "cnn/hardware.py": "def f():\n    from cnn import errors\n",  # hidden in a function
        "cnn/data/__init__.py": "from cnn.models import registry\n",  # data and models are separate
        "cnn/models/__init__.py": "",
        "cnn/models/registry.py": "import gradio\n",  # cnn never imports Gradio
        "cnn/training/__init__.py": "",
        "cnn/training/engine.py": "from cnn.training import trainer\n",  # a cycle: engine <-> trainer
        "cnn/training/trainer.py": "from cnn.training import engine\n",
        "cnn/serving/__init__.py": "import ui.app\n",  # cnn never imports the UI
        "cnn/newthing.py": "",  # no layer
        "ui/__init__.py": "",
        "ui/app.py": "from cnn.cli import train\nimport cnn.train\n",  # an entry point imported
        "cnn/cli/__init__.py": "",
        "cnn/cli/train.py": "",
        "cnn/train.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = "\n".join(problems(tmp_path))
    for expected in (
        "cnn.errors (layer 1) imports cnn.training.engine (layer 4)",
        "imports project module cnn.errors inside a function body",
        "cnn.data and cnn.models must not import each other",
        "cnn.models.registry imports gradio",
        "import cycle: cnn.training.",
        "nothing in cnn/ may import the UI",
        "module cnn.newthing has no layer",
        "a `python -m` entry point",
    ):
        assert expected in found, f"{expected!r} not reported:\n{found}"
    clean = tmp_path / "clean"
    (clean / "cnn").mkdir(parents=True)
    (clean / "cnn" / "__init__.py").write_text("from cnn import errors\n")
    (clean / "cnn" / "errors.py").write_text("import os\n")
    (clean / "ui").mkdir()
    (clean / "ui" / "__init__.py").write_text("from cnn import errors\n")
    assert problems(clean) == []
