"""Mirror faults through the whole flow: each one detected, the next mirror used; when none serves a file,
one error lists each mirror's failure, no partial file is left and nothing is provisioned."""

import logging

from tests.flows.flow_runs import flow_run_id
from tests.mirror_server import MirrorServer
from tests.prefect_api import log_records
from tests.waiting import eventually


def leftovers(workspace) -> list[str]:
    return sorted(p.name for p in workspace.rglob("*") if p.name.endswith(".part") or p.name.startswith(".staging-"))


def test_truncated_wrong_failing_and_slow_mirrors_are_each_skipped(flow, tiny_data, tmp_path):
    servers = [MirrorServer(tiny_data[0], slow_seconds=5) for _ in range(5)]
    for server, fault in zip(servers, ("truncate", "corrupt", "http500", "slow"), strict=False):
        server.faults = {f["source"]: fault for f in tiny_data[1]["files"]}
    with servers[0], servers[1], servers[2], servers[3], servers[4]:
        state = flow(mirrors=[s.url for s in servers], download_timeout=1)
    assert state.is_completed(), state.message
    assert all(len(s.requests) == 4 for s in servers)  # every file tried on every broken mirror, then served
    assert leftovers(tmp_path / "ws") == []

    # never skipped silently: one WARNING per file and broken mirror, naming the mirror and what was wrong
    def warnings_logged() -> list[str]:
        return [r.message for r in log_records(flow_run_id(state)) if r.level == logging.WARNING]

    warnings = eventually(warnings_logged, lambda lines: len(lines) >= 16, 60)  # Prefect ships logs in batches
    for server, problem in zip(
        servers, ("truncated", "wrong content: sha256", "HTTP 500", "no response"), strict=False
    ):
        for file in tiny_data[1]["files"]:
            expected = f"mirror {server.url} failed to serve {file['source']}: {problem}"
            assert sum(line.startswith(expected) for line in warnings) == 1, (expected, warnings)
    assert len(warnings) == 16


def test_when_no_mirror_serves_a_file_one_error_lists_each_and_nothing_is_left(flow, tiny_data, tmp_path):
    servers = [MirrorServer(tiny_data[0], slow_seconds=5) for _ in range(4)]
    for server, fault in zip(servers, ("truncate", "corrupt", "http500", "slow"), strict=True):
        server.faults = {"train-labels-idx1-ubyte.gz": fault}
    with servers[0], servers[1], servers[2], servers[3]:
        state = flow(mirrors=[s.url for s in servers], download_timeout=1)
    error = str(state.result(raise_on_failure=False))
    assert error.startswith("no mirror served a valid train-labels-idx1-ubyte.gz")
    for server, problem in zip(
        servers, ("truncated", "wrong content", "HTTP 500", "no response within 1 s"), strict=True
    ):
        assert f"{server.url}: " in error and problem in error
    workspace = tmp_path / "ws"
    assert leftovers(workspace) == [] and not (workspace / "downloads" / "train-labels.gz").exists()
    assert not (workspace / "compute").exists() and not (workspace / "datastore" / "mnist").exists()
