"""The scoring flow (flows/score.py), run as a user runs it, on a workspace the training flow just filled: the
workspace's test set, IDX files gzipped or not, folders of PNGs; bad input is one line, exit 2, nothing written."""

import csv
import gzip

import numpy as np
import pytest
from PIL import Image

from flows.cli import main
from flows.score import mnist_scoring
from flows.scoring_cli import SCORING
from tests.flows.flow_runs import flow_run_id
from tests.idx_files import idx_images, idx_labels, synthetic_digits
from tests.prefect_api import artifacts

N_TEST = 100  # the tiny test set's size (tests/idx_files.py)


@pytest.fixture
def workspace(trained_workspace):
    """A workspace whose registry holds a champion, trained on the tiny data (once a session)."""
    return trained_workspace


def score(**params):
    state = mnist_scoring(params=params, return_state=True)
    assert state.is_completed(), state.message
    return state


def rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_champion_scores_the_workspace_test_set(workspace):
    state = score(workspace_dir=str(workspace))
    predictions = rows(state.result())
    assert state.result() == str(workspace / "scores" / "predictions.csv") and len(predictions) == N_TEST
    assert list(predictions[0]) == ["file", "index", "predicted", "probability", "label"]
    assert [int(r["index"]) for r in predictions] == list(range(N_TEST))
    assert all(r["predicted"] in "0123456789" and 0.1 <= float(r["probability"]) <= 1 for r in predictions)
    accuracy = np.mean([r["predicted"] == r["label"] for r in predictions])
    shown = artifacts(flow_run_id(state))
    assert f"accuracy: {accuracy:.4f}" in shown["scores"].data and "digits scored: 100" in shown["scores"].data
    matrix = shown["scoring-confusion-matrix"].data
    assert matrix.startswith("# Confusion matrix of version 1") and "| **9** |" in matrix
    assert shown["least-confident"].data.startswith("data:image/png;base64,")


def write_pngs(folder, images, labels=None):
    """The images as 28x28 grayscale PNGs: in sub-folders by label when given."""
    for i, image in enumerate(images):
        target = folder / str(labels[i]) if labels is not None else folder
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.reshape(28, 28).astype(np.uint8)).save(target / f"digit-{i:03}.png")


def test_png_folders_and_plain_idx_files_give_what_the_test_set_gives(workspace, tmp_path):
    from_test_set = rows(score(workspace_dir=str(workspace)).result())
    images, labels = synthetic_digits(N_TEST, seed=2)  # the tiny test set (tests/idx_files.py)
    write_pngs(tmp_path / "labelled", images, labels)
    write_pngs(tmp_path / "plain", images[:7])
    (tmp_path / "images.idx").write_bytes(idx_images(images))  # not gzipped
    (tmp_path / "labels.idx").write_bytes(idx_labels(labels))

    labelled = rows(
        score(workspace_dir=str(workspace), images=str(tmp_path / "labelled"), output_dir=str(tmp_path / "a")).result()
    )
    by_name = {r["file"]: r for r in labelled}
    for i, expected in enumerate(from_test_set):
        got = by_name[f"{labels[i]}/digit-{i:03}.png"]
        assert (got["predicted"], got["probability"], got["label"]) == (
            expected["predicted"],
            expected["probability"],
            expected["label"],
        )
    plain = rows(
        score(workspace_dir=str(workspace), images=str(tmp_path / "plain"), output_dir=str(tmp_path / "b")).result()
    )
    assert list(plain[0]) == ["file", "index", "predicted", "probability"]  # no labels, no label column
    assert [r["predicted"] for r in plain] == [r["predicted"] for r in from_test_set[:7]]
    idx = score(
        workspace_dir=str(workspace),
        images=str(tmp_path / "images.idx"),
        labels=str(tmp_path / "labels.idx"),
        output_dir=str(tmp_path / "c"),
    )
    assert [r["predicted"] for r in rows(idx.result())] == [r["predicted"] for r in from_test_set]
    assert "accuracy: unknown" not in artifacts(flow_run_id(idx))["scores"].data


def bad_png_folder(tmp_path, kind: str):
    folder = tmp_path / kind
    images, _ = synthetic_digits(3, seed=5)
    write_pngs(folder, images)
    if kind == "wrong-size":
        Image.new("L", (32, 32)).save(folder / "big.png")
    elif kind == "not-an-image":
        (folder / "notes.png").write_text("not a picture")
    return folder


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "7"], "error: sklearn_mnist has no version '7'; the registry holds versions 1 (champion -> 1)"),
        (["--model", "staging"], "error: sklearn_mnist has no alias 'staging'; the registry holds versions 1"),
        (["--model", "../1"], "error: model '../1': expected a version number (such as 3) or an alias"),
        (["--images", "wrong-size"], "error: big.png: 32x32 pixels; the model takes 28x28"),
        (["--images", "not-an-image"], "error: notes.png: not a readable PNG image"),
        (["--images", "missing"], "error: images '"),
        (["--images", "labels.gz"], "error: labels.gz: magic number 0x00000801, expected 0x00000803 for MNIST images"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(argv, message, workspace, tmp_path, capsys):
    if argv[0] == "--images" and argv[1] in ("wrong-size", "not-an-image"):
        argv = ["--images", str(bad_png_folder(tmp_path, argv[1]))]
    elif argv[0] == "--images":
        (tmp_path / "labels.gz").write_bytes(gzip.compress(idx_labels(np.arange(10) % 10)))
        argv = ["--images", str(tmp_path / argv[1])]
    code = main(
        mnist_scoring, [*argv, "--workspace-dir", str(workspace), "--output-dir", str(tmp_path / "out")], SCORING
    )
    [line] = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and line.startswith(message), line
    assert not (tmp_path / "out").exists() and not (workspace / "scores").exists()


def test_a_folder_that_is_no_workspace_is_refused_before_anything(tmp_path, capsys):
    code = main(mnist_scoring, ["--workspace-dir", str(tmp_path / "nothing")], SCORING)
    assert code == 2 and "no workspace registry at" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()


def test_a_deployment_run_may_write_predictions_only_where_the_worker_allows(tmp_path, monkeypatch):
    from flows.scoring_parameters import ScoringParameters
    from workspaces.errors import ConfigError

    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "mlflow.db").touch()
    monkeypatch.setenv("MNIST_FLOW_ALLOWED_ROOTS", str(tmp_path))
    given = {"workspace_dir": str(tmp_path / "ws"), "output_dir": "/var/tmp/elsewhere"}
    with pytest.raises(ConfigError, match=r"^output_dir '/var/tmp/elsewhere' is outside the folders this worker"):
        ScoringParameters.from_flow(given, from_deployment=True)
    assert ScoringParameters.from_flow({**given, "output_dir": str(tmp_path / "out")}, from_deployment=True)
