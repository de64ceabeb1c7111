"""Reading MNIST's IDX files, as the tutorial's `utils.py` does, with the checks it lacked.

`load_data(filename, label)` keeps the tutorial's signature and return shapes (images: n x rows*cols uint8,
labels: n x 1 uint8), so a training script written for the tutorial runs unchanged. Unlike the tutorial's
version it refuses a file that is not what it claims to be (wrong magic number, truncated data, trailing
bytes) instead of returning garbage; `load_split` adds the checks that need both files of a pair.

This module runs on the compute (it is uploaded with train.py): it imports numpy and the standard library only.
"""

import contextlib
import fcntl
import gzip
import hashlib
import os
import struct
import zlib

import numpy as np

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (count, rows, columns)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (count)
MNIST_SHAPE = (28, 28)


class IdxFormatError(ValueError):
    """A file that is not a well-formed MNIST IDX file of the expected kind."""


def load_data(filename, label=False):
    """The tutorial's loader: images as (n, rows*cols) uint8, labels as (n, 1) uint8."""
    try:
        with gzip.open(filename) as gz:
            raw = gz.read()
    except FileNotFoundError:
        raise IdxFormatError(f"{filename}: no such file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise IdxFormatError(f"{filename}: not a readable gzip file ({exc})") from exc
    return parse_idx(raw, label=label, source=filename)


def parse_idx(raw, label=False, source="<bytes>"):
    """Parse the bytes of one IDX file; raise IdxFormatError naming `source` for anything malformed."""
    expected_magic, n_dims = (LABELS_MAGIC, 1) if label else (IMAGES_MAGIC, 3)
    kind = "labels" if label else "images"
    header_size = 4 + 4 * n_dims
    if len(raw) < header_size:
        raise IdxFormatError(f"{source}: {len(raw)} bytes is too short for an IDX {kind} header")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        raise IdxFormatError(f"{source}: magic number {magic:#010x}, expected {expected_magic:#010x} for MNIST {kind}")
    dims = struct.unpack(">" + "I" * n_dims, raw[4:header_size])
    if any(d == 0 for d in dims):
        raise IdxFormatError(f"{source}: empty {kind} file (dimensions {dims})")
    expected_size = int(np.prod(dims, dtype=np.int64))
    body = raw[header_size:]
    if len(body) != expected_size:
        problem = "truncated" if len(body) < expected_size else "has trailing bytes"
        raise IdxFormatError(
            f"{source}: {problem}: header promises {expected_size} bytes of {kind}, file holds {len(body)}"
        )
    data = np.frombuffer(body, dtype=np.uint8)
    return data.reshape(dims[0], 1) if label else data.reshape(dims[0], dims[1] * dims[2])


def image_shape(filename):
    """(rows, columns) from an images file's header, without reading the whole file."""
    with gzip.open(filename) as gz:
        header = gz.read(16)
    if len(header) < 16 or struct.unpack(">I", header[:4])[0] != IMAGES_MAGIC:
        raise IdxFormatError(f"{filename}: not an IDX images file")
    return struct.unpack(">II", header[8:16])


PARSED_DIR_VARIABLE = "MNIST_FLOW_PARSED_DIR"  # train.py's parsed_dir, set by the local workspace for its runs


def load_split(data_folder, split, dtype=np.float32, parsed_dir=None):
    """Images scaled to 0..1 (pixels divided by 255) and labels 0..9 of `split` ('train' or 'test').

    Reads the tutorial's datastore names (`train-images.gz`, ...). float32 halves the memory and, with
    scikit-learn's lbfgs, gives the same accuracy as float64 in about half the time (see benchmarks/).

    The parsed arrays are kept in `parsed_dir`, else in `.parsed/` beside the files (the local workspace points its
    runs at the one copy its flow keeps, through train.py), named by the sha256 of the two files'
    contents, and memory-mapped by the next reader: a sweep's runs decompress and scale the data once, not once
    each, and share its pages. Readers that start together wait for the first one's parse rather than each
    parsing. Where the folder cannot be written (a read-only mount), nothing is kept.
    """
    images_file = os.path.join(data_folder, f"{split}-images.gz")
    labels_file = os.path.join(data_folder, f"{split}-labels.gz")
    parsed_dir = parsed_dir or os.path.join(data_folder, ".parsed")
    kept = parsed_paths(parsed_dir, images_file, labels_file, np.dtype(dtype))
    if kept is None:
        return parse(images_file, labels_file, dtype)
    with parsing_alone(kept[0]):
        found = read_kept(kept)
        if found is not None:
            return found
        scaled, labels = parse(images_file, labels_file, dtype)
        keep(kept, scaled, labels)
        return scaled, labels


def parse(images_file, labels_file, dtype):
    images, labels = load_pair(images_file, labels_file)
    scaled = images.astype(dtype)
    scaled /= 255.0
    return scaled, labels


def read_kept(kept):
    """The kept arrays, memory-mapped, or None if they are not all there (or were removed meanwhile)."""
    try:
        images, labels = (np.load(path, mmap_mode="r") for path in kept)
    except (OSError, ValueError):
        return None
    return (images, labels) if images.shape == (len(labels), MNIST_SHAPE[0] * MNIST_SHAPE[1]) else None


@contextlib.contextmanager
def parsing_alone(path):
    """Hold an exclusive lock beside `path` while it is looked for and, if missing, made; none if the folder
    cannot be written or its file system has no locks (a read-only or blob mount: the reader parses for itself)."""
    lock = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed, or when a killed reader's process ends
    except OSError:
        pass
    try:
        yield
    finally:
        if lock is not None:
            os.close(lock)


def parsed_paths(parsed_dir, images_file, labels_file, dtype):
    """Where the parsed arrays of these two files are kept, or None if either file is missing."""
    digest = hashlib.sha256()
    try:
        for name in (images_file, labels_file):
            with open(name, "rb") as raw:
                digest.update(hashlib.sha256(raw.read()).digest())
    except OSError:
        return None
    stem = os.path.join(parsed_dir, f"{digest.hexdigest()[:32]}-{dtype.name}")
    return f"{stem}-images.npy", f"{stem}-labels.npy"


def keep(paths, *arrays):
    """Write each array to its path atomically (a reader sees a whole file or none); skip an unwritable folder."""
    try:
        os.makedirs(os.path.dirname(paths[0]), exist_ok=True)
        for path, array in zip(paths, arrays, strict=True):
            partial = f"{path}.{os.getpid()}.tmp"
            try:
                with open(partial, "wb") as out:
                    np.save(out, array)
                os.replace(partial, path)
            finally:
                if os.path.exists(partial):  # a full disk: nothing half-written is left
                    os.remove(partial)
    except OSError:
        pass


def load_pair(images_file, labels_file):
    """A pair of files as raw pixels (n x 784, uint8) and labels (n,), checked together as MNIST."""
    images = load_data(images_file, False)
    labels = load_data(labels_file, True).reshape(-1)
    check_pair(images, labels, images_file, labels_file, image_shape(images_file))
    return images, labels


def check_pair(images, labels, images_file, labels_file, shape):
    """The checks that need both files: MNIST's 28x28 digits, one label per image, labels 0..9."""
    if tuple(shape) != MNIST_SHAPE:
        raise IdxFormatError(f"{images_file}: images are {shape[0]}x{shape[1]}, expected MNIST's 28x28")
    if len(images) != len(labels):
        raise IdxFormatError(
            f"{labels_file}: {len(labels)} labels for {len(images)} images in {images_file}; "
            "expected one label per image"
        )
    if labels.max() > 9:
        raise IdxFormatError(f"{labels_file}: label {int(labels.max())} found, expected digits 0..9")
