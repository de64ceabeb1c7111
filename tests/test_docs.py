"""The docs cannot drift from the code: every project file path, make target and command-line flag that the
README, a page of docs/ or a module's docstring names exists.

A project path is one that starts at the project's root (`workspaces/azureml_v1/sdk.py`), or at one of its
package folders (`azureml_v1/sdk.py`); in a docstring, a bare module name (`conftest.py`) is a module beside it, or
the one module of the project with that name (`train.py`).
Paths inside a workspace (`datastore/mnist/`), on Azure or in an SDK are not the project's and are not checked
here; a flag of another tool is listed below with its tool."""

import ast
import re
from functools import cache
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PAGES = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
CODE = ("flows", "tasks", "steps", "plumbing", "workspaces", "training", "benchmarks", "tests")
TOP = {*CODE, "docs", "requirements", ".ci", "automations"}
ROOT_FILES = {"Makefile", "prefect.yaml", "pyproject.toml", "README.md", "mkdocs.yml"}
# a path: folders and a file with a known extension, or a folder with its trailing slash
PATH = re.compile(r"(?<![\w./~:$-])((?:[\w.-]+/)+(?:[\w.-]+\.(?:py|md|yaml|yml|toml|json|txt|sh|png|cfg))?)(?![\w/])")
BARE_MODULE = re.compile(r"(?<![\w./-])([a-z_][a-z0-9_]*\.py)\b")
MAKE = re.compile(r"(?m)(?:^|`)make ([a-z][a-z0-9-]*[a-z0-9])\b(?!-)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]+)")
FOREIGN_FLAGS = {  # flags of other tools the docs show, by tool
    "prefect": {"--all", "--pool", "--type", "--param", "--watch", "--no-prompt", "--host", "--port", "--from-file"},
    "mlflow": {"--backend-store-uri", "--artifacts-destination", "--serve-artifacts", "--env-manager", "--host"},
    "pip": {"--find-links", "--extra-index-url", "--dry-run"},
    "pytest (xdist)": {"--dist"},
    "mkdocs": {"--strict"},
    "ruff": {"--check"},
    "every command": {"--help"},
}


def project_files() -> set[str]:
    skip = (".venv", ".git", "build", ".mypy_cache", ".ruff_cache", ".pytest_cache", "node_modules")
    found = set()
    for path in PROJECT.rglob("*"):
        relative = path.relative_to(PROJECT)
        if relative.parts and relative.parts[0] in skip or "__pycache__" in relative.parts:
            continue
        found.add(relative.as_posix() + ("/" if path.is_dir() else ""))
    return found


@cache
def files() -> frozenset[str]:
    return frozenset(project_files())


@cache
def package_folders() -> frozenset[str]:
    """The names of the project's folders that hold modules (`azureml_v1`, `contract`): a path may start at one."""
    return frozenset(Path(f).parent.name for f in files() if f.endswith(".py") and "/" in f)


def ours(path: str) -> bool:
    first = path.split("/")[0]
    return first in TOP or path in ROOT_FILES or (first in package_folders() and "/" in path)


@cache
def made_by_runs() -> tuple[str, ...]:
    """The folders .gitignore keeps out of git because a run or a test makes them (`tests/output/`): a page may
    name them, and what is in them, on a fresh clone where they do not exist yet."""
    lines = (PROJECT / ".gitignore").read_text().splitlines()
    return tuple(line.strip().lstrip("/") for line in lines if line.strip().endswith("/") and "/" in line.strip()[:-1])


def exists(path: str, beside: Path | None = None) -> bool:
    """`path` from the project's root, or as the end of a project path (`azureml_v1/sdk.py`); a bare name beside
    the module `beside`."""
    if path.startswith(made_by_runs()):
        return True
    if "/" not in path:  # beside the module, or a name only one project file has (train.py)
        named = [f for f in files() if f.rsplit("/", 1)[-1] == path]
        return (beside is not None and (beside / path).exists()) or len(named) == 1
    if path.split("/")[0] in TOP or path in ROOT_FILES:
        return path in files()
    return any(f.endswith("/" + path) for f in files())


def docstrings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef))]
    return [doc for node in nodes if (doc := ast.get_docstring(node))]


def modules() -> list[Path]:
    return sorted(p for top in CODE for p in (PROJECT / top).rglob("*.py") if "__pycache__" not in p.parts)


def make_targets() -> set[str]:
    text = (PROJECT / "Makefile").read_text()
    targets = set(re.findall(r"(?m)^([a-z][a-z0-9-]*):", text))
    extras = re.findall(r"(?m)^([a-z0-9-]+) = \[", (PROJECT / "pyproject.toml").read_text())
    return targets | {f"install-{extra}" for extra in extras}  # install-%: every extra


def our_flags() -> set[str]:
    from flows.cli import TRAINING, build_parser
    from flows.scoring_cli import SCORING

    flags = {o for command in (TRAINING, SCORING) for a in build_parser(command)._actions for o in a.option_strings}
    for module in modules():
        flags |= set(re.findall(r"add_argument\(\s*\"(--[a-z0-9-]+)\"", module.read_text()))
    return flags


def unknown_paths(text: str, beside: Path | None = None, bare: bool = False) -> list[str]:
    text = re.sub(r"/\n\s*", "/", text)  # a path a line break cut in two
    named = {p for p in PATH.findall(text) if ours(p)}
    if bare:
        named |= set(BARE_MODULE.findall(text))
    return sorted(p for p in named if not exists(p, beside))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(PROJECT).as_posix())
def test_every_path_target_and_flag_a_page_names_exists(page):
    text = page.read_text()
    assert unknown_paths(text) == []
    assert sorted(set(MAKE.findall(text)) - make_targets()) == []
    foreign = set().union(*FOREIGN_FLAGS.values())
    assert sorted(set(FLAG.findall(text)) - our_flags() - foreign) == []


def test_every_file_a_docstring_names_exists():
    """A module's docstrings name files by their path, or by their name beside the module (`conftest.py`)."""
    missing = {
        module.relative_to(PROJECT).as_posix(): found
        for module in modules()
        if (found := unknown_paths("\n".join(docstrings(module)), module.parent, bare=True))
    }
    assert missing == {}


def test_the_readme_is_read_in_five_minutes():
    """At most 12 KB: what it is, the two commands, what one run does, the common flags, the backends, links."""
    readme = (PROJECT / "README.md").read_text()
    assert len(readme.encode()) <= 12_000
    assert readme.index("make run") < 1_500 and readme.index("make test") < 1_500  # on the first screen


def test_the_layout_names_every_module():
    """docs/architecture.md's layout names each module of the layers it describes module by module (tasks/ and
    steps/ are described by their rule: one module per step)."""
    layout = (PROJECT / "docs" / "architecture.md").read_text()
    layered = ("flows", "plumbing", "workspaces", "training", "benchmarks")
    unnamed = [
        module.relative_to(PROJECT).as_posix()
        for top in layered
        for module in sorted((PROJECT / top).rglob("*.py"))
        if module.name != "__init__.py" and module.name not in layout
    ]
    assert unnamed == []
