"""The pictures the Prefect UI shows (steps/digits.py, steps/charts.py): the tutorial's grid of sample digits, ten
to a row, the same for the same seed, and the accuracy chart, each a PNG embedded as a data URI, a chart drawn once
for its data."""

import base64
import struct

import numpy as np

from steps.charts import accuracy_chart_png, data_uri
from steps.digits import digits_grid_png, sample_grid_png
from tasks.report import chart
from tests.idx_files import synthetic_digits
from tests.workspaces.jobs import a_run_result
from workspaces.base import WorkspaceRef

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's header chunk."""
    assert png.startswith(PNG_SIGNATURE)
    return struct.unpack(">II", png[16:24])


def digits(count: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = synthetic_digits(count, seed=3)
    return images.reshape(count, 784), labels


def test_the_sample_is_thirty_digits_ten_to_a_row_and_the_same_for_the_same_seed():
    images, labels = digits(200)
    assert png_size(sample_grid_png(images, labels)) == (720, 270)  # 10 inches by 3 rows of 1.25, at 72 dpi
    row = sample_grid_png(images, labels, count=10)  # (one row of them: quicker to draw thrice)
    assert sample_grid_png(images, labels, count=10) == row
    assert sample_grid_png(images, labels, count=10, seed=1) != row


def test_a_grid_has_as_many_rows_as_its_digits_need():
    images, _ = digits(11)
    assert png_size(digits_grid_png(images, [str(i) for i in range(11)])) == (720, 180)
    assert png_size(digits_grid_png(images[:3], ["a", "b", "c"])) == (720, 90)


def test_the_accuracy_chart_is_a_png_that_shows_the_baseline_when_there_is_one():
    runs = [a_run_result("run-1", 0.92, 0.8), a_run_result("run-2", 0.93, 0.4)]
    chart = accuracy_chart_png(runs, baseline_accuracy=0.9262)
    assert png_size(chart) == (480, 280)  # 6 by 3.5 inches at 80 dpi
    assert accuracy_chart_png(runs) != chart
    assert base64.b64decode(data_uri(chart).removeprefix("data:image/png;base64,")) == chart


def test_a_chart_is_drawn_once_for_its_data_and_kept_one_picture_a_chart(tmp_path):
    """The report's charts (tasks/report.py `chart`): a cached run shows the picture an earlier run drew for the same
    runs, read back rather than drawn again; other runs draw a new one, which replaces the old."""
    ws, drawn = WorkspaceRef(backend="local", directory=str(tmp_path)), []

    def accuracy_chart(*data):
        drawn.append(data)
        return accuracy_chart_png(*data)

    accuracy_chart.__module__ = accuracy_chart_png.__module__  # its code: steps/charts.py's
    runs = [a_run_result("run-1", 0.92, 0.8), a_run_result("run-2", 0.93, 0.4)]
    first = chart(ws, accuracy_chart, runs, 0.9262)
    assert chart(ws, accuracy_chart, runs, 0.9262) == first == data_uri(accuracy_chart_png(runs, 0.9262))
    assert len(drawn) == 1
    other = chart(ws, accuracy_chart, runs[:1], 0.9262)
    assert other != first and len(drawn) == 2
    assert [path.name.split("-")[0] for path in (tmp_path / "reports" / "charts").iterdir()] == ["accuracy_chart"]
