"""The import rules of docs/architecture.md's "Layout and design", checked on every module's source (lazy imports inside
functions included), so the architecture is kept by CI rather than by review."""

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from workspaces.backends import BACKENDS

SDKS = ("azureml", "azure", "mlflow", "prefect_azure")
PROJECT_PACKAGES = ("flows", "tasks", "steps", "plumbing", "workspaces", "training")
ABOVE_THE_PORT = ("prefect", "flows", "tasks", "steps", "plumbing")
# the adapters' packages, as the backends table names them: each entry's own, and the one its settings come from
# (the Azure adapters share workspaces/azureml_common)
SETTINGS_MODULES = sorted({entry.check.__module__ for entry in BACKENDS.values()})
ADAPTERS = tuple(
    sorted({entry.package for entry in BACKENDS.values()} | {m.rsplit(".", 1)[0] for m in SETTINGS_MODULES})
)


def adapter(name: str, *other_sdks: str) -> tuple[str, ...]:
    """What adapter `name` must not import: what stands above the port, the SDKs of the others, the others."""
    return (*ABOVE_THE_PORT, *other_sdks, *(other for other in ADAPTERS if other != name))


# module prefix -> what it must not import (a name is forbidden when it is, or is inside, one of these)
RULES = {
    "training": ("prefect", *PROJECT_PACKAGES),  # it runs on the compute: uploaded alone
    "workspaces.local": adapter("workspaces.local", "azureml", "azure", "prefect_azure"),
    "workspaces.azureml_common": adapter("workspaces.azureml_common", "mlflow", "azureml.core", "azure.ai"),
    "workspaces.azureml_v1": adapter("workspaces.azureml_v1", "mlflow", "azure.ai"),
    "workspaces.azureml_v2": adapter("workspaces.azureml_v2", "mlflow", "azureml.core"),
    "workspaces": (*ABOVE_THE_PORT, *SDKS, *ADAPTERS),  # the port and what adapters share
    "steps": ("prefect", "flows", "tasks", "plumbing", *SDKS, *ADAPTERS),
    "plumbing": ("flows", "tasks", "steps", *SDKS, *ADAPTERS),
    "tasks": ("flows", *SDKS, *ADAPTERS),
    "flows.main": (*SDKS, *ADAPTERS),
    "flows.score": (*SDKS, *ADAPTERS),
    "flows": ("prefect", *SDKS, *ADAPTERS),  # parameters and the command line answer before Prefect loads
}
# the one place that knows the adapters: the backends table, which imports their settings (standard library only);
# their workspaces it imports by name, when one is opened
ALLOWED = {("workspaces.backends", module) for module in SETTINGS_MODULES}
# what an Azure adapter shares with the other: the common module (and the SDKs below it)
SHARED = {
    "workspaces.azureml_v1": ("workspaces.azureml_common",),
    "workspaces.azureml_v2": ("workspaces.azureml_common",),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def rule_for(module: str) -> tuple[str, tuple[str, ...]]:
    for prefix in sorted(RULES, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix, RULES[prefix]
    raise AssertionError(f"{module} is in no package of the layout")


def inside(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(module: str, path: Path) -> list[str]:
    layer, forbidden = rule_for(module)
    return sorted(
        name
        for name in imported_names(path)
        if any(inside(name, f) for f in forbidden)
        and not inside(name, layer)
        and not any(module == owner and inside(name, allowed) for owner, allowed in ALLOWED)
        and not any(inside(name, shared) for shared in SHARED.get(layer, ()))
    )


MODULES = sorted(p for package in PROJECT_PACKAGES for p in (PROJECT / package).rglob("*.py"))


def test_every_module_imports_only_what_its_layer_may():
    """One test over every module (it was one per module: 90 entries in a run that says nothing more), each
    breach named with its layer's rule."""
    breaches = [
        f"{module} ({rule_for(module)[0]}) must not import {', '.join(wrong)}"
        for module, wrong in ((module_name(path), violations(module_name(path), path)) for path in MODULES)
        if wrong
    ]
    assert len(MODULES) > 80 and breaches == [], "\n".join(breaches)


@pytest.mark.parametrize(
    "module, source, caught",
    [
        ("steps.look", "def draw():\n    from prefect import task\n", ["prefect.task"]),
        ("tasks.upload", "import workspaces.local.workspace\n", ["workspaces.local.workspace"]),
        ("training.train", "from workspaces.base import MODEL_FILE\n", ["workspaces.base.MODEL_FILE"]),
        ("workspaces.base", "import mlflow\n", ["mlflow"]),
        ("flows.parameters", "from prefect import flow\n", ["prefect.flow"]),
        ("workspaces.local.tracking", "import mlflow\nfrom workspaces.files import sha256_file\n", []),
    ],
)
def test_the_rules_catch_a_violation(tmp_path, module, source, caught):
    """The check itself, on modules written for it: what a layer may not import is caught, lazily or not."""
    path = tmp_path / "module.py"
    path.write_text(source)
    assert violations(module, path) == caught


# --- paths: every join of a folder and a name that is not a literal goes through workspaces.paths.inside ----
PATHISH = re.compile(r"(path|folder|root|dir|directory|staging|dest|base|mount|home|file)s?$", re.IGNORECASE)
INSIDE_MODULE = "workspaces/paths.py"  # the one join that may use joinpath: inside() itself
PATH_MAKERS = {"Path", "PurePath", "inside", "path", "folder", "resolve", "expanduser", "absolute"}


def looks_like_a_path(node: ast.expr) -> bool:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return looks_like_a_path(node.left)
    if isinstance(node, ast.Call):
        func = node.func
        return (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) in PATH_MAKERS
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return bool(PATHISH.search(name))


def unguarded_joins(path: Path, shown: str | None = None) -> list[str]:
    """`a / b` with a path on the left and anything but a literal string (or CONSTANT) on the right, and any
    joinpath outside workspaces/paths.py: each is a place a name could lead outside its folder."""
    found, shown = [], shown or str(path.relative_to(PROJECT))
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and looks_like_a_path(node.left):
            literal = isinstance(node.right, ast.Constant) and isinstance(node.right.value, str)
            constant = isinstance(node.right, ast.Name) and node.right.id.isupper()
            if not (literal or constant):
                found.append(f"{shown}:{node.lineno}: {ast.unparse(node)}")
        elif (
            getattr(getattr(node, "func", None), "attr", None) == "joinpath" and path != PROJECT / "workspaces/paths.py"
        ):
            found.append(f"{shown}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_paths_built_from_names_go_through_inside():
    code = [p for p in MODULES if not p.is_relative_to(PROJECT / "training")]  # (training/ runs on the compute)
    assert [join for path in code for join in unguarded_joins(path)] == []


@pytest.mark.parametrize(
    "source, caught",
    [
        ("target = folder / file.name\n", 1),
        ("target = Path(root) / name / 'x'\n", 1),
        ("target = inside(folder, file.name)\n", 0),
        ("target = self.root / 'datastore' / MANIFEST\n", 0),
        ("share = 100.0 * done / total\n", 0),
        ("target = staging.joinpath(name)\n", 1),
    ],
)
def test_the_join_check_catches_an_unguarded_join(tmp_path, source, caught):
    path = tmp_path / "sample.py"
    path.write_text(source)
    assert len(unguarded_joins(path, shown="sample.py")) == caught


# --- backends: the table (workspaces/backends.py) is the only place outside the adapters that names one ----------
def names_of_backends(path: Path) -> list[str]:
    return names_of_backends_in(path, path)


def names_of_backends_in(path: Path, shown: Path) -> list[str]:
    """Where a module names a backend: a string that is a backend's name (as `--backend` takes it)."""
    tree = ast.parse(path.read_text(), str(path))
    return [
        f"{shown.relative_to(PROJECT)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in BACKENDS
    ]


def test_only_the_backends_table_and_the_adapters_name_a_backend():
    outside = [
        path
        for path in MODULES
        if module_name(path) != "workspaces.backends" and not any(inside(module_name(path), a) for a in ADAPTERS)
    ]
    assert [place for path in outside for place in names_of_backends(path)] == []
    assert {module_name(p) for p in MODULES} >= set(SETTINGS_MODULES)  # (the table names real modules)


def test_the_backend_check_catches_a_name(tmp_path):
    path = tmp_path / "module.py"
    path.write_text('kind = "local" if ws.backend == "local" else "AmlCompute"\nsaid = "a local folder"\n')
    found = names_of_backends_in(path, PROJECT / "tasks" / "module.py")  # (as if it were a module of tasks/)
    assert found == ["tasks/module.py:1: 'local'", "tasks/module.py:1: 'local'"]
