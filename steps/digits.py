"""The tutorial's look at 30 random training digits, drawn as a PNG. Matplotlib's object API (no pyplot)
draws without a screen and without global state shared between threads."""

import io

import numpy as np
from matplotlib.figure import Figure

SAMPLE_SIZE = 30


def sample_grid_png(images: np.ndarray, labels: np.ndarray, count: int = SAMPLE_SIZE, seed: int = 0) -> bytes:
    """`count` random images (rows of 784 pixels) with their labels above them, 10 to a row."""
    picks = np.random.default_rng(seed).permutation(len(images))[:count]
    rows = -(-len(picks) // 10)
    figure = Figure(figsize=(10, 1.25 * rows))
    for axis, i in zip(figure.subplots(rows, 10, squeeze=False).flat, picks, strict=False):
        axis.imshow(images[i].reshape(28, 28), cmap="Greys")
        axis.set_title(str(int(labels[i])), fontsize=12)
    for axis in figure.axes:
        axis.axis("off")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    return buffer.getvalue()
