"""Files written whole or not at all, and the sha256 that names their content.

Every file the project writes goes to a temporary name in the same folder and is renamed into place, so a
crash, a full disk or a second writer never leaves a half file under its final name.
"""

import contextlib
import errno
import fnmatch
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from workspaces.errors import WorkspaceError

CHUNK = 1 << 20
SOURCE_IGNORE = ("__pycache__", "*.pyc", "outputs", "mlruns")  # what running a script leaves in its folder


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(folder: Path, ignore: tuple[str, ...] = SOURCE_IGNORE) -> str:
    """One hash over the relative names and contents of a folder's files (by default its source files: what
    running a script leaves there, SOURCE_IGNORE, left out)."""
    digest = hashlib.sha256()
    files = (p for p in Path(folder).rglob("*") if p.is_file() and not ignored(p.relative_to(folder), ignore))
    for path in sorted(files):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def ignored(relative: Path, ignore: tuple[str, ...] = SOURCE_IGNORE) -> bool:
    """Whether a file of a folder matches one of `ignore` (by default, what running a script leaves there)."""
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in ignore)


def explain_os_error(exc: OSError, path: Path) -> WorkspaceError:
    """An OSError from writing the workspace, as one sentence that says what to do."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return WorkspaceError(f"no space left on the device writing {path}; free some space and run again")
    if exc.errno == errno.EFBIG:
        return WorkspaceError(
            f"{path} would exceed the largest file allowed here (ulimit -f or the file system); "
            "raise the limit or choose another --workspace-dir"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return WorkspaceError(f"cannot write {path} ({exc.strerror}); choose a writable --workspace-dir")
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return WorkspaceError(f"cannot create {path}: a file stands where a folder is needed; choose another path")
    return WorkspaceError(f"cannot write {path}: {exc.strerror or exc}")


def make_dirs(*folders: Path) -> None:
    for folder in folders:
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise explain_os_error(exc, Path(folder)) from exc


@contextlib.contextmanager
def writing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds, remove it otherwise."""
    path = Path(path)
    make_dirs(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise explain_os_error(exc, path) from exc
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # as open() would make it (mkstemp: 0600, whatever the umask)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise explain_os_error(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def current_umask() -> int:
    """The process's umask, read where Linux says it (setting it and back, elsewhere, once: the umask is the
    process's, and another thread creating a file meanwhile would get the one set for the moment)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomically(path: Path, data: bytes) -> None:
    with writing(path) as tmp:
        tmp.write_bytes(data)


def copy_atomically(source: Path, path: Path) -> None:
    with writing(path) as tmp:
        shutil.copyfile(source, tmp)
