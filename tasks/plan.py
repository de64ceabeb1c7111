"""`--plan`: what a run with these parameters would do, doing none of it. The flow's steps are walked in the
order of its table (plumbing/pipeline.py), each cached step's key computed by that step's own cache policy and
looked up as the run looks it up (plumbing/caching.py: `WorkspaceTask.plan`), so the plan cannot drift from the
run. A step's input that an earlier step would compute is taken from that step's record, even a stale one: the
steps whose records go stale (download, upload) recompute the same value. Nothing is downloaded, uploaded,
provisioned, submitted or registered; no MLflow run is created; a workspace that does not exist yet is not
created. The reasoning is plain (steps/plan.py); each step that is not cached says what it would do beside its
task (tasks/connect.py, tasks/code.py, tasks/training.py).
"""

from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from plumbing.caching import REFRESH_PARAMETER
from plumbing.pipeline import Pipeline
from steps.plan import plan_markdown


@task(task_run_name="plan the run", cache_policy=NO_CACHE)
def plan_the_run(pipeline: Any, params) -> str:
    """The flow's steps in its order, each with what it would do: the markdown of the `plan` artifact. (The flow
    passes the pipeline `quote`d: Prefect hands it over unquoted, without walking through it.)"""
    given = {"params": {REFRESH_PARAMETER: params.refresh_cache}}  # what the steps' policies read of the flow's
    assert isinstance(pipeline, Pipeline)
    rows, notes = pipeline.plan(params, given)
    markdown = plan_markdown(rows, params.workspace, notes)
    create_markdown_artifact(markdown, key="plan", description="What a run with these parameters would do")
    get_run_logger().info("\n%s", markdown)
    return markdown
