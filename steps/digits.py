"""The tutorial's look at 30 random training digits (and the scoring flow's least confident ones), drawn as a
PNG. Matplotlib's object API (no pyplot) draws without a screen and without global state shared between threads."""

import io

import numpy as np
from matplotlib.figure import Figure

SAMPLE_SIZE = 30


def sample_grid_png(images: np.ndarray, labels: np.ndarray, count: int = SAMPLE_SIZE, seed: int = 0) -> bytes:
    """`count` random images (rows of 784 pixels) with their labels above them, 10 to a row."""
    picks = np.random.default_rng(seed).permutation(len(images))[:count]
    return digits_grid_png(images[picks], [str(int(label)) for label in labels[picks]])


def digits_grid_png(images: np.ndarray, titles: list[str], fontsize: int = 12) -> bytes:
    """The images (rows of 784 pixels), each with its title above it, 10 to a row."""
    rows = -(-len(images) // 10)
    figure = Figure(figsize=(10, 1.25 * rows))
    for axis, image, title in zip(figure.subplots(rows, 10, squeeze=False).flat, images, titles, strict=False):
        axis.imshow(image.reshape(28, 28), cmap="Greys")
        axis.set_title(title, fontsize=fontsize)
    for axis in figure.axes:
        axis.axis("off")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    return buffer.getvalue()
