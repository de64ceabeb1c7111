"""`make prune KEEP_DAYS=N` (plumbing/prune.py) on a real Prefect database: the one of a profile whose temporary
server ran a flow twice. The older run is aged by editing its end time in the database (the one thing a test
cannot wait for); Prefect's own vacuum then deletes it with its task runs, logs and artifacts, and keeps the other."""

import os
import sqlite3
import subprocess
import sys

from flows.cli import TEMPORARY_SERVER_DEFAULTS
from tests.conftest import PROJECT

A_FLOW = """
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

@task
def step(n):
    create_markdown_artifact(f"run {n}", key="what-ran")
    get_run_logger().info("step %s ran", n)

@flow
def daily(n: int):
    step(n)

for n in (1, 2):
    print(daily(n, return_state=True).state_details.flow_run_id)
"""


def in_profile(home, *command: str) -> subprocess.CompletedProcess:
    """`command` with Prefect's profile in `home` and no server named: the temporary server, as `make run` has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(TEMPORARY_SERVER_DEFAULTS, PREFECT_HOME=str(home))  # its start given 120 s, as the command does
    return subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=300)


def rows(database, table: str, run_id: str) -> int:
    column = "id" if table == "flow_run" else "flow_run_id"
    with sqlite3.connect(database) as db:
        return db.execute(f"select count(*) from {table} where {column} = ?", (run_id,)).fetchone()[0]


def test_prune_deletes_the_flow_runs_past_the_retention_and_all_they_left(tmp_path, processes):
    ran = in_profile(tmp_path, sys.executable, "-c", A_FLOW)
    assert ran.returncode == 0, ran.stderr[-3000:]
    old, recent = ran.stdout.split()
    database = tmp_path / "prefect.db"
    for table in ("flow_run", "task_run", "log", "artifact"):
        assert rows(database, table, old) >= 1 and rows(database, table, recent) >= 1, table
    with sqlite3.connect(database) as db:  # forty days ago
        db.execute("update flow_run set end_time = datetime('now', '-40 days') where id = ?", (old,))

    pruned = in_profile(tmp_path, sys.executable, "-m", "plumbing.prune", "--keep-days", "30")
    assert pruned.returncode == 0, pruned.stderr[-3000:]
    assert pruned.stdout.startswith("pruned 1 flow runs, 1 task runs, "), pruned.stdout
    assert "flow runs that ended more than 30 days ago" in pruned.stdout and "1 flow runs kept" in pruned.stdout
    for table in ("flow_run", "task_run", "log", "artifact"):
        assert rows(database, table, old) == 0 and rows(database, table, recent) >= 1, table


def test_prune_refuses_a_retention_that_is_no_number_of_days_and_a_server_it_cannot_prune(tmp_path, processes):
    for days in ("0", "1.5", "x"):
        refused = in_profile(tmp_path, sys.executable, "-m", "plumbing.prune", "--keep-days", days)
        assert refused.returncode == 2 and refused.stderr.splitlines()[-1] == (
            f"error: KEEP_DAYS={days!r}: expected a whole number of days, 1 or more"
        )
    env = {**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    served = subprocess.run(
        [sys.executable, "-m", "plumbing.prune", "--keep-days", "7"],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert served.returncode == 2 and "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD=604800" in served.stderr
    assert not (tmp_path / "prefect.db").exists()  # nothing was opened
