"""The code a step runs, as part of its cache key: a changed step is a changed result.

Prefect's TASK_SOURCE hashes a task function's own lines, and the work of a step is elsewhere (steps/, training/,
the port's helpers): a step whose module changed was still read from the cache. Here a step's code is its task's
module and every project module that one imports, transitively (imports inside functions too), each hashed by
its syntax tree: a comment, a blank line or a reformatting does not count; a changed statement, name, number or
docstring does (train.py prints its own docstring). Left out: the adapters (the folders under workspaces/), whose
results are checked by `holds` instead, and the training folder, whose bytes the steps that run it hash as an
input (steps/code.py: it is uploaded as it is). Each module is hashed once per process, and a step's code is
walked once per process: the sixteen training steps of a flow ask for it together, on their threads, and one walk
answers them all (sixteen at once took a second of a cached run, docs/benchmarks.md).
"""

import ast
import functools
import hashlib
import json
import sys
import threading
from pathlib import Path

from workspaces.paths import inside

PROJECT = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "tasks", "steps", "plumbing", "training", "workspaces")
ADAPTERS = PROJECT / "workspaces"  # its sub-folders are the adapters
# CPython 3.11 builds a syntax tree's objects with a depth count kept in state its threads share
# (python/cpython#106905): two steps of a flow computing their keys at once, on the flow's task threads, could
# fail with "SystemError: AST constructor recursion depth mismatch", and the step then ran without a cache key
# ("result will not be persisted", seen in CI). One parse at a time.
_parsing = threading.Lock()
_walking = threading.Lock()  # one walk of a step's imports at a time: the others wait for its answer


def parsed(path: Path) -> ast.Module:
    text = path.read_text()
    with _parsing:
        return ast.parse(text, str(path))


@functools.cache
def module_facts(path: Path) -> tuple[str, frozenset[str]]:
    """A file's syntax-tree hash and the modules it imports, from one parse (parsing each file twice was a third
    of the hashing's time)."""
    tree = parsed(path)
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest(), frozenset(imports_in(tree))


def syntax_hash(path: Path) -> str:
    return module_facts(path)[0]


@functools.cache
def module_path(name: str) -> Path | None:
    """The file of project module `name`, if it is one (and not an adapter's); found without importing it."""
    if name.split(".")[0] not in PACKAGES:
        return None
    *package, last = name.split(".")
    files = (inside(PROJECT, *package, f"{last}.py"), inside(PROJECT, *package, last, "__init__.py"))
    path = next((p for p in files if p.is_file()), None)
    return None if path is None or (path.parent != ADAPTERS and ADAPTERS in path.parents) else path


def imported_modules(path: Path) -> set[str]:
    return set(module_facts(path)[1])


def imports_in(tree: ast.Module) -> set[str]:
    """The modules a file imports: `import a.b`, and for `from a import b` the module a.b if it is one, else a."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                found.add(f"{node.module}.{alias.name}" if module_path(f"{node.module}.{alias.name}") else node.module)
    return found


def step_code(module: str) -> dict[str, str]:
    """Each file of the code that `module`'s steps run (relative to the project, or absolute outside it) -> the
    hash of its syntax tree."""
    with _walking:
        return dict(_walked(module))  # a copy: the caller may not change what the next step is answered


@functools.cache
def _walked(module: str) -> dict[str, str]:
    start = Path(sys.modules[module].__file__ or "").resolve() if module in sys.modules else module_path(module)
    if start is None:
        return {}
    files, todo = {start}, [start]
    while todo:
        for name in imported_modules(todo.pop()):
            path = module_path(name)
            if path is not None and path not in files:
                files.add(path)
                todo.append(path)
    return {shown(path): syntax_hash(path) for path in sorted(files)}


def shown(path: Path) -> str:
    return path.relative_to(PROJECT).as_posix() if path.is_relative_to(PROJECT) else str(path)


def code_hash(module: str) -> str:
    return hashlib.sha256(json.dumps(step_code(module), sort_keys=True).encode()).hexdigest()


def what_changed(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    """The files whose code differs between a step's last run and now: changed, added or removed."""
    return sorted(name for name in recorded.keys() | now.keys() if recorded.get(name) != now.get(name))
