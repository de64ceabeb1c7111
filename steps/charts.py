"""Pictures for the Prefect UI, embedded as data URIs so they render without any public URL."""

import base64
import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from workspaces.base import RunResult


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_file_uri(path: str | Path) -> str:
    return data_uri(Path(path).read_bytes())


def accuracy_chart_png(results: Sequence[RunResult], baseline_accuracy: float | None = None) -> bytes:
    """Accuracy against regularization rate (log scale), one point per run, the baseline as a line."""
    runs = sorted(results, key=lambda r: r.regularization)
    figure = Figure(figsize=(6, 3.5))
    axis = figure.subplots()
    axis.plot([r.regularization for r in runs], [r.accuracy for r in runs], marker="o", label="training runs")
    if baseline_accuracy is not None:
        axis.axhline(baseline_accuracy, color="grey", linestyle="--", label="local baseline, LogisticRegression()")
    axis.set_xscale("log")
    axis.set_xlabel("regularization rate (C = 1 / rate)")
    axis.set_ylabel("test accuracy")
    axis.legend(loc="lower left")
    axis.grid(True, alpha=0.3)
    return png_of(figure)


def png_of(figure: Figure) -> bytes:
    """A chart as the artifacts embed it: laid out, PNG at 80 dpi."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()
