"""What the flow tells Prefect's event feed (steps/events.py): only what happened, with what a person needs."""

from steps.events import champion_moved, registered, run_reused, training_failed
from workspaces.base import DataRef, KnownRun, ModelVersion, RunResult, TrainingJob


def version(number: str, accuracy: float, champion: bool = True) -> ModelVersion:
    return ModelVersion(
        name="sklearn_mnist",
        version=number,
        run_id=f"run-{number}",
        accuracy=accuracy,
        regularization=0.8,
        source="models:/sklearn_mnist/" + number,
        sha256="0" * 64,
        tags={},
        created=True,
        champion=champion,
    )


def a_job() -> TrainingJob:
    data = DataRef(datastore="ds", path="mnist", files={"train-images.gz": "1" * 64}, mount="")
    return TrainingJob(
        experiment="sklearn-mnist",
        run_name="reg-0.4",
        regularization=0.4,
        data=data,
        source_dir="training",
        source_hash="2" * 64,
        compute="cpu-cluster",
    )


def test_a_champion_that_moved_says_from_which_version_to_which_and_by_how_much():
    moved = champion_moved(version("3", 0.9263), version("2", 0.9201))
    assert moved is not None and moved.event == "mnist-flow.model.champion-moved"
    assert moved.resource["prefect.resource.id"] == "mnist-flow.model.sklearn_mnist.3"
    assert (moved.payload["from_version"], moved.payload["to_version"], moved.payload["gain"]) == ("2", "3", 0.0062)
    assert moved.related[0]["prefect.resource.role"] == "previous-champion"


def test_the_first_champion_moved_from_none_and_a_champion_that_stayed_is_no_event():
    first = champion_moved(version("1", 0.92), None)
    assert first is not None and first.payload["from_version"] is None and first.related == []
    assert champion_moved(version("2", 0.92), version("2", 0.92)) is None  # registered again: it was already
    assert champion_moved(version("3", 0.90, champion=False), version("2", 0.92)) is None  # not better


def test_a_registration_a_failure_and_a_reuse_carry_the_run_and_the_rate():
    run = RunResult(
        run_id="run-3",
        name="reg-0.8",
        status="FINISHED",
        regularization=0.8,
        metrics={"accuracy": 0.9263},
        data_hash="d" * 64,
        source_hash="s" * 64,
        url="http://mlflow/run-3",
    )
    told = registered(version("3", 0.9263), run)
    assert (told.payload["version"], told.payload["run_id"], told.payload["data_sha256"]) == ("3", "run-3", "d" * 64)
    failed = training_failed(a_job(), "x" * 5000 + "the last line")
    assert failed.payload["run_name"] == "reg-0.4" and failed.payload["error"].endswith("the last line")
    assert len(failed.payload["error"]) == 2000  # the log's tail, not all of it
    known = KnownRun(run_id="run-7", name="reg-0.4", state="under_way", status="Running", url="http://studio/7")
    reused = run_reused(a_job(), known, "re-attached")
    assert reused.event == "mnist-flow.training.re-attached" and reused.payload["run_id"] == "run-7"
    assert reused.resource["prefect.resource.id"] == f"mnist-flow.job.{a_job().key[:24]}"
