"""Paths built from names someone else chose: a run's parameters, a dataset description, an SDK's answer.

Every place that joins a folder and such a name goes through `inside(root, *names)`, which refuses a result
outside `root`, resolved, symlinks included (a `..`, an absolute name, a symlink in the workspace pointing
out). The parameters are checked first (`single_component`), so this is the second line: it also catches what
the workspace itself holds (a symlink someone planted), and what a check forgot.
"""

import unicodedata
from pathlib import Path

from workspaces.errors import WorkspaceError

MAX_NAME = 255  # a file name's length on every common file system


def component_problem(name: str) -> str | None:
    """Why `name` cannot be one path component (a file or folder name), or None if it can."""
    if not isinstance(name, str) or not name:
        return "expected a non-empty name"
    if "/" in name or "\\" in name:
        return "expected a single name, without '/' or '\\'"
    if name in (".", ".."):
        return "expected a name, not '.' or '..'"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "expected no NUL or control characters"
    try:
        encoded = name.encode()
    except UnicodeEncodeError:  # a lone surrogate: no file system can store it
        return "expected valid Unicode text"
    if len(encoded) > MAX_NAME:
        return f"expected at most {MAX_NAME} bytes"
    return None


def inside(root: str | Path, *names: str) -> Path:
    """`root` joined with `names`, resolved; WorkspaceError if that lands outside `root` (resolved too)."""
    base = Path(root).resolve()
    path = base.joinpath(*names).resolve()
    if path != base and base not in path.parents:
        shown = "/".join(names)
        raise WorkspaceError(f"{shown!r} leads outside {base} (to {path}); refusing to use it")
    return path
