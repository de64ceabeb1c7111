"""The tutorial's `urlretrieve` of four files, made dependable: a mirror client usable without Prefect.

Mirrors are tried in order, for each file; what a mirror serves is checked against the dataset's sha256 and
written to a temporary name, renamed only once it is whole and right; a file already present with the right
sha256 is not fetched again. When no mirror serves a file, the error lists what each one returned; it is
retried (TransientError) if any of them failed in a way a second try may not (network, HTTP 429/5xx).
"""

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlparse
from urllib.request import url2pathname

from steps.dataset import DataFile, Dataset, LocalFiles
from steps.mnist import check_mnist
from workspaces.errors import DataError, TransientError
from workspaces.files import CHUNK, make_dirs, sha256_file, writing
from workspaces.paths import inside
from workspaces.secrets import redacted

TIMEOUT_SECONDS = 30.0
Progress = Callable[[float, float], None]


class MirrorFailed(Exception):
    def __init__(self, problem: str, transient: bool):
        super().__init__(problem)
        self.transient = transient


def files_intact(files: LocalFiles) -> bool:
    return all(p.is_file() and sha256_file(p) == files.files[p.name] for p in files.paths)


def download_files(
    dataset: Dataset,
    folder: Path,
    mirrors: tuple[str, ...],
    progress: Progress = lambda d, t: None,
    say: Callable[[str], None] = print,
    timeout: float = TIMEOUT_SECONDS,
    warn: Callable[[str], None] | None = None,
) -> LocalFiles:
    """The dataset's files in `folder`, every one checked by sha256 and all four parsed as MNIST. Files are
    fetched into a staging folder and moved into `folder` only once the whole set passed: bad data leaves
    nothing behind, and `folder` only ever holds files that passed. A mirror that failed before another served
    the file is reported to `warn` (default `say`): a poisoned or broken mirror is never skipped silently."""
    folder = Path(folder).resolve()
    make_dirs(folder)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))  # a name of its own, inside folder
    try:
        paths = {}
        for index, file in enumerate(dataset.files):
            paths[file.name] = inside(folder, file.name)
            if paths[file.name].is_file() and sha256_file(paths[file.name]) == file.sha256:
                say(f"{file.name}: already here with the expected sha256; not downloaded again")
                continue
            moved = lambda done, size, i=index: progress(i + done / size, len(dataset.files))  # noqa: E731
            paths[file.name] = inside(staging, file.name)
            served = fetch_from_mirrors(file, paths[file.name], mirrors, moved, timeout, warn or say)
            say(f"{file.name}: downloaded from {redacted(served)}")
        try:
            counts = check_mnist(paths)
        except DataError as exc:  # name the file as the user knows it, not by the staging folder's path
            raise DataError(str(exc).replace(f"{staging}/", "downloaded file ")) from exc
        for path in paths.values():
            if path.parent == staging:
                os.replace(path, inside(folder, path.name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(len(dataset.files), len(dataset.files))
    say(f"{counts['train']} training and {counts['test']} test images, all well-formed")
    return LocalFiles(folder=str(folder), files=dataset.checksums)


def fetch_from_mirrors(
    file: DataFile,
    target: Path,
    mirrors: tuple[str, ...],
    progress: Progress,
    timeout: float = TIMEOUT_SECONDS,
    warn: Callable[[str], None] = print,
) -> str:
    """The mirror that served `file` whole and right, each mirror that failed before it named to `warn`;
    DataError or TransientError listing every failure when none served it."""
    failures = []
    for mirror in mirrors:
        try:
            fetch(mirror, file, target, progress, timeout)
        except MirrorFailed as failure:
            failures.append((mirror, failure))
            continue
        for failed, problem in failures:
            served = f"{redacted(mirror)} served it instead"
            warn(f"mirror {redacted(failed)} failed to serve {file.source}: {problem}; {served}")
        return mirror
    listing = "; ".join(f"{redacted(mirror)}: {failure}" for mirror, failure in failures)
    message = f"no mirror served a valid {file.source} (sha256 {file.sha256[:12]}...): {listing}"
    if any(failure.transient for _, failure in failures):
        raise TransientError(message + "; check the network, or point --mirror or MNIST_MIRROR at a local copy")
    raise DataError(message + "; check the mirrors (--mirror, MNIST_MIRROR) or the dataset description")


def fetch(mirror: str, file: DataFile, target: Path, progress: Progress, timeout: float = TIMEOUT_SECONDS) -> None:
    """Copy one file from one mirror to `target`, atomically; MirrorFailed says why not."""
    with writing(target) as partial, open(partial, "wb") as out:
        digest, done = hashlib.sha256(), 0
        with open_source(mirror, file.source, timeout) as (stream, size):
            while chunk := _read(stream):
                digest.update(chunk)
                out.write(chunk)
                done += len(chunk)
                progress(done, size or done)
        if size is not None and done != size:
            raise MirrorFailed(f"truncated: {done} of {size} bytes", transient=True)
        if done == 0:  # (its sha256 alone, e3b0c4..., never said so)
            raise MirrorFailed("an empty file (0 bytes)", transient=False)
        if digest.hexdigest() != file.sha256:
            raise MirrorFailed(f"wrong content: sha256 {digest.hexdigest()[:12]}...", transient=False)


def _read(stream) -> bytes:
    try:
        return stream.read(CHUNK)
    except http.client.IncompleteRead as exc:
        raise MirrorFailed(f"truncated: connection closed after {len(exc.partial)} bytes", transient=True) from exc
    except TimeoutError as exc:
        raise MirrorFailed("no data within the time-out", transient=True) from exc
    except OSError as exc:
        raise MirrorFailed(f"connection lost: {exc}", transient=True) from exc


class open_source:
    """Context manager over a mirror's file: (readable stream, size in bytes or None)."""

    def __init__(self, mirror: str, name: str, timeout: float):
        self.mirror, self.name, self.timeout = mirror, name, timeout

    def __enter__(self):
        parsed = urlparse(self.mirror)
        if parsed.scheme in ("http", "https"):
            self.stream = _open_url(self.mirror.rstrip("/") + "/" + quote(self.name), self.timeout)
            length = self.stream.headers.get("Content-Length")
            return self.stream, int(length) if length and length.isdigit() else None
        path = inside(url2pathname(parsed.path) if parsed.scheme == "file" else self.mirror, self.name)
        try:
            self.stream = open(path, "rb")
        except OSError as exc:
            raise MirrorFailed(f"cannot read {path}: {exc.strerror}", transient=False) from exc
        return self.stream, path.stat().st_size

    def __exit__(self, *exc_info) -> None:
        self.stream.close()


def _open_url(url: str, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": "mnist-flow"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        transient = exc.code == 429 or exc.code >= 500
        raise MirrorFailed(f"HTTP {exc.code} {exc.reason}", transient=transient) from exc
    except TimeoutError as exc:
        raise MirrorFailed(f"no response within {timeout:g} s", transient=True) from exc
    except urllib.error.URLError as exc:
        raise MirrorFailed(f"unreachable ({exc.reason})", transient=True) from exc
