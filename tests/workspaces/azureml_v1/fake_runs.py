"""Experiments and runs of the fake Azure ML workspace (SDK v1): the run-history service (experiments, runs, their
details, tags, listing), the content service (the snapshot of the source folder, its files put in Azurite), the
execution service (a snapshot run starts a real run: fake_runner.py), the artifacts and metrics of a run. Answers
are shaped on the SDK's models: ExperimentDto, RunDto, RunDetailsDto (azureml._restclient.models)."""

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

from tests.workspaces.azureml_v1.fake_runner import locked, read_json, start_runner, write_json
from tests.workspaces.azureml_v1.fake_service import error_body, now_iso

HISTORY = "/history/v1.0"


class Runs:
    """Mixin of FakeAzureMLv1: experiments by name, runs as folders under root/runs (run.json: fake_runner's)."""

    def _init_runs(self, arm_scope: str) -> None:
        self.experiments: dict[str, dict] = {}
        experiment = rf"{HISTORY}{arm_scope}/experiments/([^/]+)"
        self.route("GET", "service", experiment, self.experiment_get, "ExperimentDto")
        self.route("POST", "service", experiment, self.experiment_create, "ExperimentDto")
        by_id = rf"{HISTORY}{arm_scope}/experimentids/([^/]+)"
        self.route("GET", "service", by_id, self.experiment_by_id, "ExperimentDto")

    def experiment_dto(self, name: str) -> dict:
        return self.experiments[name]

    def experiment_get(self, request, subscription, group, workspace, name):
        if name not in self.experiments:
            return 404, error_body("UserError", f"Experiment {name} not found", 404), {}
        return 200, self.experiment_dto(name), {}

    def experiment_by_id(self, request, subscription, group, workspace, experiment_id):
        found = [dto for dto in self.experiments.values() if dto["experimentId"] == experiment_id]
        if not found:
            return 404, error_body("UserError", f"Experiment {experiment_id} not found", 404), {}
        return 200, found[0], {}

    def experiment_create(self, request, subscription, group, workspace, name):
        if name not in self.experiments:
            self.experiments[name] = {
                "experimentId": str(uuid.uuid4()),
                "name": name,
                "description": None,
                "createdUtc": now_iso(),
                "archivedTime": None,
                "tags": {},
            }
        return 200, self.experiment_dto(name), {}

    # ---- runs: records of fake_runner.py's, in root/runs/<id>/run.json -------------------------------------------
    @property
    def runs_folder(self) -> Path:
        return self.root / "runs"

    def run_record(self, run_id: str) -> dict | None:
        return read_json(self.runs_folder / run_id / "run.json")

    def update_run(self, run_id: str, **changes) -> None:
        record = self.runs_folder / run_id / "run.json"
        with locked(record):  # its runner writes it too
            write_json(record, {**self.run_record(run_id), **changes})

    def created_runs(self) -> list[dict]:
        return [read_json(p) for p in sorted(self.runs_folder.glob("*/run.json"), key=lambda p: p.stat().st_ctime)]

    def start_run(self, run_id: str, experiment: str, config: dict, arguments: list[str]) -> None:
        """A run as the service starts one: NotStarted, then walked by its own process (fake_runner.py)."""
        folder = self.runs_folder / run_id
        record = {
            "id": run_id,
            "number": len(self.created_runs()) + 1,
            "experiment": experiment,
            "status": "NotStarted",
            "history": ["NotStarted"],
            "tags": {},
            "properties": {},
            "error": None,
            "script": config["script"],
            "arguments": arguments,
            "target": config["target"],
            "definition": config,  # the run configuration as submitted: the details' runDefinition
            "max_run_duration_seconds": config.get("maxRunDurationSeconds"),
            "logs": list(self.runtime_logs),
            "queue_seconds": self.queue_seconds.get(run_id, 0.0),
            # a test that asked for runs of some name to behave so: the run prepares until it is named (its tags),
            # however long the submit's second request takes on a busy machine, or it would miss what was asked
            "awaits_its_name": bool(self.queue_seconds or self.preempt or self.interruptions),
            "preempt": False,
            "created": time.time(),
            "createdUtc": now_iso(),
        }
        write_json(folder / "run.json", record)
        self.update_run(run_id, pid=start_runner(folder))

    # ---- what a test asks of the cluster, for the runs of one name (applied once a run is named: its tags) -----
    def behaviour(self, run_name: str | None) -> dict:
        """How a run of this name behaves on the cluster: how long it queues, whether its node is pre-empted once
        (the next run of that name only), the statuses it goes through while running (NotResponding ...)."""
        changes = {}
        if run_name in self.queue_seconds:
            changes["queue_seconds"] = self.queue_seconds[run_name]
        if run_name in self.preempt:
            self.preempt.remove(run_name)
            changes["preempt"] = True
        if run_name in self.interruptions:
            changes["interruptions"] = self.interruptions[run_name]
        return changes

    def cancel_from_outside(self, run_id: str) -> None:
        """What a person does in the studio."""
        self.update_run(run_id, cancel_requested=True)

    def stop_every_run(self) -> None:
        """Test clean-up: runs outlive flows (as on Azure), not the test."""
        for record in self.created_runs():
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.killpg(record.get("pid"), signal.SIGKILL)
