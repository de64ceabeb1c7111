"""Every status either Azure ML SDK defines has a decided meaning here (workspaces/azureml_common/statuses.py), read
from the SDKs themselves, so that a status a later SDK adds fails this test instead of being taken for a dead run
(and trained again beside itself, billed twice). What each meaning does is tested on `follow` and the never-twice
rule below."""

import logging

import pytest

from tests.workspaces.jobs import a_job
from tests.workspaces.test_polling import Clock, History, a_run, once
from workspaces.azureml_common.polling import StatusBoard
from workspaces.azureml_common.runs import HEARTBEAT_SECONDS, follow, run_error
from workspaces.azureml_common.statuses import ENDED, MEANINGS, meaning, run_state
from workspaces.errors import RunFailed, TransientError


def sdk_statuses() -> dict[str, set[str]]:
    """The statuses each SDK lists: azureml-core's RunStatus (its constants and its lists), azure-ai-ml's JobStatus
    (the REST model's enum and the operations' class) and RunHistoryConstants' lists."""
    pytest.importorskip("azureml.core", reason="the `azure` extra is not installed (make install-azure)")
    pytest.importorskip("azure.ai.ml", reason="the `azure-v2` extra is not installed (make install-azure-v2)")
    from azure.ai.ml._restclient.arm_ml_service.models import JobStatus as RestJobStatus
    from azure.ai.ml.operations._run_history_constants import JobStatus, RunHistoryConstants
    from azureml._restclient.constants import RunStatus

    def constants(kind) -> set[str]:
        return {value for name, value in vars(kind).items() if name.isupper() and isinstance(value, str)}

    v1 = constants(RunStatus) | set(RunStatus.list()) | set(RunStatus.get_running_statuses())
    v1 |= set(RunStatus.get_post_processing_statuses())
    v2 = {member.value for member in RestJobStatus} | constants(JobStatus)
    for listed in ("ALL_STATUSES", "IN_PROGRESS_STATUSES", "POST_PROCESSING_STATUSES", "TERMINAL_STATUSES"):
        v2 |= set(getattr(RunHistoryConstants, listed))
    return {"azureml-core": v1, "azure-ai-ml": v2}


def test_every_status_either_sdk_defines_has_a_decided_meaning():
    for sdk, statuses in sdk_statuses().items():
        undecided = sorted(statuses - MEANINGS.keys())
        assert undecided == [], f"{sdk} defines statuses with no meaning in statuses.py: {undecided}"


def test_only_an_end_is_not_under_way_and_only_failed_or_canceled_count_for_nothing():
    every = set().union(*sdk_statuses().values())
    assert {s for s in every if run_state(s) == "failed"} == {"Failed", "Canceled"}
    assert {s for s in every if run_state(s) == "finished"} == {"Completed"}
    assert run_state("CancelRequested") == run_state("Finalizing") == "under_way"
    assert run_state("Hibernating") == "under_way" and meaning("Hibernating") == "unknown"  # one no SDK lists
    assert {"Completed", "Failed", "Canceled"} == ENDED


def test_a_run_being_cancelled_is_followed_to_its_end_and_warned_of_with_its_link_when_it_lasts(caplog):
    """CancelRequested bills until Azure ML stops the run (public reports: hours): followed, a WARNING with the
    studio link once it has lasted HEARTBEAT_SECONDS, never taken for ended."""
    statuses = ["Running"] + ["CancelRequested"] * int(HEARTBEAT_SECONDS / 10) + ["Canceled"]
    history = History(statuses, [1] * len(statuses))
    clock = Clock()
    board = StatusBoard(history.status, lambda: 10.0, clock)
    run = a_run().model_copy(update={"url": "https://ml.azure.com/runs/run-1"})
    with caplog.at_level(logging.INFO):
        details, _ = follow(history, board, run, lambda line: None, 10.0, sleep=clock.sleep, clock=clock)
    assert details["status"] == "Canceled"
    said = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert (
        logging.INFO,
        "run reg-0.8 is being cancelled (CancelRequested: it runs, and bills, until Azure ML stops it)",
    ) in said
    assert (
        logging.WARNING,
        "run reg-0.8 has been CancelRequested for 5 min; it may still bill: look at it in the studio: "
        "https://ml.azure.com/runs/run-1",
    ) in said


def test_a_status_no_sdk_lists_is_followed_with_a_warning_naming_it(caplog):
    history = History(["Running", "Hibernating", "Hibernating", "Running", "Completed"], [1, 1, 1, 2, 2])
    clock = Clock()
    board = StatusBoard(history.status, lambda: 10.0, clock)
    with caplog.at_level(logging.INFO):
        details, _ = follow(history, board, a_run(), lambda line: None, 10.0, sleep=clock.sleep, clock=clock)
    assert details["status"] == "Completed"
    warned = [r.getMessage() for r in once(caplog.records) if r.levelno == logging.WARNING]
    assert warned == ["run reg-0.8 is in status 'Hibernating', which neither Azure ML SDK lists: followed as under way"]


def test_a_run_found_being_cancelled_that_ends_canceled_is_trained_anew_not_failed():
    """An earlier flow's stop, seen through to its end: the run counts for nothing, so the task's retry submits."""
    assert isinstance(run_error("reg-0.8", "Canceled", {}, (), stopped=False, found_cancelling=True), TransientError)
    assert isinstance(run_error("reg-0.8", "Canceled", {}, (), stopped=False), RunFailed)  # in the studio: final
    assert a_job("azureml:mnist:1", {}).run_name == "reg-0.8"
