"""The docs cannot drift from the code: every project file path, make target and command-line flag that the
README, a page of docs/ or a module's docstring names exists.

A project path is one that starts at the project's root (`workspaces/azureml_v1/sdk.py`), or at one of its
package folders (`azureml_v1/sdk.py`); in a docstring, a bare module name (`conftest.py`) is a module beside it, or
the one module of the project with that name (`train.py`).
Paths inside a workspace (`datastore/mnist/`), on Azure or in an SDK are not the project's and are not checked
here; a flag of another tool is listed below with its tool."""

import ast
import fnmatch
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
    "mlflow": {
        "--backend-store-uri",
        "--artifacts-destination",
        "--serve-artifacts",
        "--env-manager",
        "--host",
        "--app-name",
    },
    "pip": {"--find-links", "--extra-index-url", "--dry-run"},
    "pytest (xdist)": {"--dist"},
    "mkdocs": {"--strict"},
    "ruff": {"--check"},
    "every command": {"--help"},
}


def project_files() -> set[str]:
    """The project's own files: not those of a folder .gitignore keeps out of git (the venv, a workspace `make run`
    left, with its run snapshots' copies of train.py), which a newcomer's tree holds and a fresh clone does not."""
    found = set()
    for path in PROJECT.rglob("*"):
        relative = path.relative_to(PROJECT)
        if any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in ignored_folders()):
            continue
        found.add(relative.as_posix() + ("/" if path.is_dir() else ""))
    return found


@cache
def ignored_folders() -> tuple[str, ...]:
    """The folder names .gitignore keeps out of git wherever they are (`.workspace/`, `__pycache__/`), and git's."""
    lines = [line.strip() for line in (PROJECT / ".gitignore").read_text().splitlines()]
    return (".git", "node_modules", *(line.strip("/") for line in lines if line.endswith("/") and "/" not in line[:-1]))


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


# a section named in quotes: `see "Trust"`, `"Never twice" below`, `("How a local run starts")`
NAMED_SECTION = re.compile(r'(?:\bsee |\()"([A-Z][^"`|\n]{2,70})"|"([A-Z][^"`|\n]{2,70})" (?:below|above)\b')


def headings(page: Path) -> list[str]:
    text = re.sub(r"(?ms)^```.*?^```", "", page.read_text())  # (a comment in a code block is no heading)
    return [line.lstrip("#").strip().lower() for line in text.splitlines() if line.startswith("#")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(PROJECT).as_posix())
def test_a_section_a_page_names_in_quotes_is_one_of_its_own(page):
    """A section named by its title in quotes is on the same page; one of another page is a link (mkdocs --strict
    checks a link's anchor, not a quoted title: five pages named sections that had moved or gone)."""
    own = headings(page)
    named = {a or b for a, b in NAMED_SECTION.findall(page.read_text())}
    assert sorted(title for title in named if not any(h.startswith(title.lower()) for h in own)) == []
