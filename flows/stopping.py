"""What stopping a flow run does to its training runs, by what stopped it (Prefect's hooks in flows/main.py call
these; the command's own signals are plumbing/stopping.py's).

- Cancelled (the UI's cancel, `prefect flow-run cancel`, an automation): Prefect's runner sends the flow's process
  SIGTERM (which stops what that process holds, tasks/training.py), SIGKILLs it 30 s later, then runs the
  on_cancellation hook in a process of its own, with the deployment's environment. There, the flow run's runs
  are found in the workspace named by its own parameters, by the flow run's tag, and cancelled: those the flow's
  process had not reached, or created while it stopped.
- Crashed (the flow's process killed, its machine lost; or, in the command, interrupted in the process): only
  what that process itself holds is stopped. Runs on Azure ML that a crashed process leaves go on, and the next
  flow run re-attaches to them and uses their results: a crash is not a person's decision to stop paying for
  work already bought (docs/troubleshooting.md, "Stopping a flow").
"""

from typing import Any

import workspaces
from flows.parameters import TrainingParameters
from workspaces.stop_report import StopReport


def stop_cancelled_flow_run(parameters: dict[str, Any], flow_run: str, from_deployment: bool) -> StopReport:
    """Stop what this process holds, then the flow run's runs the workspace holds under its tag."""
    report = workspaces.stop_all_runs()
    params = TrainingParameters.from_flow(parameters.get("params"), from_deployment=from_deployment)
    return report + workspaces.stop_runs_of(params.workspace, flow_run, params.experiment_name)


def said(report: StopReport) -> str:
    return f"the flow run was stopped: {report.line()}"
