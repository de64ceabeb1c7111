"""Following Azure ML runs at a cost that does not grow with their number (workspaces/azureml_common/polling.py and
azureml_common/runs.py's `follow`), on the plain functions: a clock and a run history of the test's own, no service."""

import email.utils
import logging
from datetime import UTC, datetime, timedelta

import pytest

from tests.workspaces.jobs import a_job
from workspaces.azureml_common.polling import Backoff, LogReader, StatusBoard, retry_after
from workspaces.azureml_common.runs import follow
from workspaces.azureml_common.statuses import run_state
from workspaces.base import RunHandle
from workspaces.errors import WorkspaceError


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_sixteen_runs_cost_one_status_query_an_interval():
    clock, queries = Clock(), []

    def query(experiment, run_ids):
        queries.append((experiment, run_ids))
        return {run_id: f"status of {run_id}" for run_id in run_ids}

    board = StatusBoard(query, lambda: 5.0, clock)
    runs = [f"run-{n}" for n in range(16)]
    for run_id in runs:
        board.watch(run_id, "sklearn-mnist")
    assert [board.status(run_id) for run_id in runs] == [f"status of {run_id}" for run_id in runs]
    clock.sleep(4.9)
    assert [board.status(run_id) for run_id in runs] == [f"status of {run_id}" for run_id in runs]
    assert len(queries) == 1 and queries[0] == ("sklearn-mnist", sorted(runs))
    clock.sleep(0.1)
    board.forget("run-3")
    board.status("run-0")
    assert len(queries) == 2 and "run-3" not in queries[1][1]


def test_a_failed_status_query_is_not_repeated_by_every_follower_within_the_interval():
    clock, calls = Clock(), []

    def query(experiment, run_ids):
        calls.append(run_ids)
        if len(calls) == 1:
            raise ConnectionResetError("reset by peer")
        return dict.fromkeys(run_ids, "Running")

    board = StatusBoard(query, lambda: 5.0, clock)
    for n in range(8):
        board.watch(f"run-{n}", "sklearn-mnist")
    for n in range(8):
        with pytest.raises(ConnectionResetError):
            board.status(f"run-{n}")
    assert len(calls) == 1
    clock.sleep(5.0)
    assert board.status("run-5") == "Running" and len(calls) == 2


def test_a_run_not_listed_yet_has_no_status_on_the_board():
    board = StatusBoard(lambda experiment, run_ids: {}, lambda: 5.0, Clock())
    board.watch("just-created", "sklearn-mnist")
    assert board.status("just-created") is None


def test_a_log_is_read_from_where_the_last_read_ended_in_whole_lines():
    written, asked = bytearray(), []

    def read_from(url, start):
        asked.append(start)
        return bytes(written[start:])

    reader = LogReader()
    written += b"step 1\nstep 2\nhalf a li"
    assert reader.read("std_log.txt", "url", read_from) == ["step 1", "step 2"]
    written += "ne, accuracy 0.92 \u2713\r\n".encode()[:-3]  # the multi-byte character split by the next read
    assert reader.read("std_log.txt", "url", read_from) == []
    written += "\u2713\r\n".encode()[-3:] + b"no newline at the end"
    assert reader.read("std_log.txt", "url", read_from) == ["half a line, accuracy 0.92 \u2713"]
    assert reader.read("std_log.txt", "url", read_from, final=True) == ["no newline at the end"]
    assert asked == [0, 23, 43, 67]  # each read from the byte after the last one read, whole lines or not


def test_the_pause_grows_while_nothing_changes_and_is_back_at_the_first_change():
    backoff = Backoff(5.0)
    pauses = [backoff.next(changed=False) for _ in range(8)]
    assert pauses[0] == 7.5 and pauses[-1] == 30.0 and pauses == sorted(pauses)
    assert backoff.next(changed=True) == 5.0
    assert max(Backoff(10.0).next(False) for _ in range(20)) <= 60.0
    slow = Backoff(10.0)
    assert [slow.next(False) for _ in range(10)][-1] == 60.0


class Throttled(Exception):
    def __init__(self, headers, cause=None):
        super().__init__("HTTP 429")
        self.response = type("Response", (), {"headers": headers, "status_code": 429})()
        self.__cause__ = cause


def test_retry_after_is_read_in_seconds_or_as_a_date_and_through_a_wrapped_error():
    assert retry_after(Throttled({"Retry-After": "7"})) == 7.0
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 80 < retry_after(Throttled({"Retry-After": when})) <= 90
    assert retry_after(RuntimeError("wrapped")) == 0.0
    wrapped = RuntimeError("the adapter's")
    wrapped.__cause__ = Throttled({"retry-after": "3"})
    assert retry_after(wrapped) == 3.0
    assert retry_after(Throttled({"Retry-After": "86400"})) == 300.0
    assert retry_after(Throttled({"Retry-After": "soon, perhaps"})) == 0.0  # not understood: no crash, no wait


class History:
    """A run's history as the service tells it: a status per poll, and a log that grows with them."""

    def __init__(self, statuses, log_lines_by_poll, refuse_url_once_at=None):
        self.statuses, self.logs = statuses, log_lines_by_poll
        self.poll = 0
        self.details_asked = 0
        self.refuse_at, self.url = refuse_url_once_at, "sas-1"

    def status(self, experiment, run_ids):
        status = self.statuses[min(self.poll, len(self.statuses) - 1)]
        self.poll += 1
        return dict.fromkeys(run_ids, status)

    def run_details(self, run_id):
        self.details_asked += 1
        if self.refuse_at is not None and self.poll > self.refuse_at:
            self.url = "sas-2"
        status = self.statuses[min(self.poll - 1, len(self.statuses) - 1)]
        running = status not in ("Queued", "Starting")
        return {"runId": run_id, "status": status, "logFiles": {"user_logs/std_log.txt": self.url} if running else {}}

    def read_from(self, url, start):
        if self.refuse_at is not None and self.poll > self.refuse_at and url == "sas-1":
            error = Exception("AuthenticationFailed: Signature not valid in the specified time frame")
            error.status_code = 403
            raise error
        text = "".join(f"line {n}\n" for n in range(self.logs[min(self.poll - 1, len(self.logs) - 1)]))
        return text.encode()[start:]


def a_run() -> RunHandle:
    return RunHandle(run_id="run-1", name="reg-0.8", job=a_job("azureml:mnist:1", {}))


def test_a_run_is_followed_asking_its_details_only_when_its_status_changes():
    statuses = ["Queued", "Queued", "Running", "Running", "Running", "Running", "Finalizing", "Completed"]
    history = History(statuses, [0, 0, 1, 2, 2, 4, 5, 5])
    clock = Clock()
    board = StatusBoard(history.status, lambda: 1.0, clock)
    lines: list[str] = []
    details, tail = follow(history, board, a_run(), lines.append, 1.0, sleep=clock.sleep, clock=clock)
    assert details["status"] == "Completed"
    assert lines == [f"line {n}" for n in range(5)] and list(tail) == lines
    assert history.details_asked == 4  # Queued, Running, Finalizing, Completed: one each
    assert board.watched == {}


def test_a_log_url_whose_sas_expired_is_asked_for_again_and_read_on_where_it_stopped():
    history = History(["Running"] * 6 + ["Completed"], [1, 2, 3, 4, 5, 6, 6], refuse_url_once_at=3)
    clock = Clock()
    board = StatusBoard(history.status, lambda: 1.0, clock)
    lines: list[str] = []
    follow(history, board, a_run(), lines.append, 1.0, sleep=clock.sleep, clock=clock)
    assert lines == [f"line {n}" for n in range(6)]
    assert history.details_asked == 3  # Running, the refused URL, Completed


def test_losing_contact_is_waited_out_for_the_patience_said_all_along_and_given_up_truthfully(caplog):
    """An outage is waited out for MNIST_FLOW_FOLLOW_PATIENCE (30 min unless set): a WARNING at the first failed
    poll, a line every 5 minutes, then a final error that says the run was not cancelled, where it is, and that the
    next flow run re-attaches (it said "retrying" with no retry left, after 8 polls: about 6 minutes, silent)."""
    clock = Clock()

    def down(experiment, run_ids):
        raise ConnectionResetError("reset by peer")

    history = History(["Running"], [0])
    board = StatusBoard(down, lambda: 10.0, clock)
    run = a_run().model_copy(update={"url": "https://ml.azure.com/runs/run-1"})
    with caplog.at_level(logging.INFO), pytest.raises(WorkspaceError) as gave_up:
        follow(history, board, run, lambda line: None, 10.0, sleep=clock.sleep, clock=clock, patience=1800)
    said = str(gave_up.value)
    assert said.startswith("lost contact with Azure ML for 30 min while following run 'reg-0.8'")
    assert "retry" not in said
    assert said.endswith(
        "the run was not cancelled and may still be running on Azure ML: https://ml.azure.com/runs/run-1; the next "
        "flow run re-attaches to it"
    )
    warned = [r.getMessage() for r in once(caplog.records) if r.levelno == logging.WARNING]
    assert warned[0].startswith("lost contact with Azure ML while following run reg-0.8") and "30 min" in warned[0]
    assert 5 <= sum(w.startswith("still no contact with Azure ML after") for w in warned) <= 6  # every 5 minutes


def test_contact_back_before_the_patience_ends_goes_on_following(caplog):
    clock, calls = Clock(), []

    def flaky(experiment, run_ids):
        calls.append(clock.now)
        if len(calls) <= 3:
            raise ConnectionResetError("reset by peer")
        return dict.fromkeys(run_ids, "Completed" if len(calls) > 5 else "Running")

    history = History(["Running"] * 5 + ["Completed"], [1] * 6)
    board = StatusBoard(flaky, lambda: 1.0, clock)
    with caplog.at_level(logging.INFO):
        details, _ = follow(history, board, a_run(), lambda line: None, 1.0, sleep=clock.sleep, clock=clock)
    assert details["status"] == "Completed"
    assert "contact with Azure ML is back: following run reg-0.8 again" in [r.getMessage() for r in caplog.records]


def test_a_run_in_the_status_unknown_is_warned_of_followed_and_never_taken_for_failed(caplog):
    """azure-ai-ml's JobStatus has Unknown, "if not mapped to all other statuses": such a run is not over, and a
    second one beside it would bill twice; it is followed as a stuck one is, up to the deadline, and left alone."""
    assert run_state("Unknown") == "under_way"
    history = History(["Running", "Unknown"], [1, 1])
    clock = Clock()
    board = StatusBoard(history.status, lambda: 60.0, clock)
    with caplog.at_level(logging.INFO), pytest.raises(WorkspaceError, match="has been Unknown for 60 min"):
        follow(history, board, a_run(), lambda line: None, 60.0, sleep=clock.sleep, clock=clock)
    assert "run reg-0.8 is in a status the service calls Unknown" in [r.getMessage() for r in caplog.records]
    assert all(r.levelno == logging.WARNING for r in caplog.records if "Unknown" in r.getMessage())


def test_a_run_the_listing_leaves_out_is_no_longer_known_and_its_end_is_seen_from_its_details():
    """SDK v1's pager drops hidden runs, v2 skips malformed entries: a run listed once and then left out was kept
    Running for ever (its end never seen). Now it is not known, so its follower asks for its details."""
    clock, answers = Clock(), [{"run-1": "Running"}, {}, {}]

    def query(experiment, run_ids):
        return answers.pop(0) if answers else {}

    board = StatusBoard(query, lambda: 1.0, clock)
    board.watch("run-1", "sklearn-mnist")
    assert board.status("run-1") == "Running"
    clock.sleep(1.0)
    assert board.status("run-1") is None


def test_a_refused_status_query_is_given_up_once_and_each_run_is_followed_by_its_details(caplog):
    """A 4xx to the query (an operation the service does not answer for these runs) fails no follower: one WARNING,
    then every run's details are asked for, as azure-ai-ml's own jobs.stream polls them."""
    from azure.core.exceptions import HttpResponseError

    clock, asked = Clock(), []

    def refused(experiment, run_ids):
        asked.append(run_ids)
        error = HttpResponseError(message="(UserError) The request is invalid")
        error.status_code = 400
        raise error

    class DetailsOnly(History):  # the run advances a poll at each of its details, the only thing asked
        def run_details(self, run_id):
            self.poll += 1
            return super().run_details(run_id)

    history = DetailsOnly(["Running", "Running", "Completed"], [1, 2, 2])
    board = StatusBoard(refused, lambda: 1.0, clock)
    with caplog.at_level(logging.WARNING):
        details, tail = follow(history, board, a_run(), lambda line: None, 1.0, sleep=clock.sleep, clock=clock)
    assert details["status"] == "Completed" and list(tail) == ["line 0", "line 1"]
    assert len(asked) == 1 and history.details_asked == 3
    assert [r.getMessage() for r in once(caplog.records)] == [
        "Azure ML refused listing the statuses of the runs followed: (UserError) The request is invalid; each run's "
        "details are asked for instead, one request per run an interval"
    ]


def once(records: list) -> list:
    """Each log record once: a logging handler a test before in the same worker left on a logger hands caplog the
    same record twice."""
    return list({id(record): record for record in records}.values())


def test_a_log_the_storage_refuses_even_anew_is_given_up_and_the_run_followed_to_its_end(caplog):
    """A log read refused twice (a new URL asked for between) failed the follower, its run left unwatched; now
    the log is given up with a WARNING, and the run followed by its status alone."""

    class Refusing(History):
        def read_from(self, url, start):
            error = Exception("AuthorizationPermissionMismatch: This request is not authorized")
            error.status_code = 403
            raise error

    history = Refusing(["Running", "Running", "Completed"], [1, 1, 1])
    clock = Clock()
    board = StatusBoard(history.status, lambda: 1.0, clock)
    with caplog.at_level(logging.WARNING):
        details, tail = follow(history, board, a_run(), lambda line: None, 1.0, sleep=clock.sleep, clock=clock)
    assert details["status"] == "Completed" and tail == ()
    assert [r.getMessage() for r in once(caplog.records)] == [
        "the storage refused reading run run-1's log (AuthorizationPermissionMismatch: This request is not "
        "authorized); its lines are not shown here, its status is followed"
    ]
