"""mnist-training: Azure ML's tutorial "Train an image classification model" as one Prefect flow.

    python flows/main.py --help
    python flows/main.py --regularization 0.8 --regularization 0.4 --regularization 0.1
    python flows/main.py --backend azureml --workspace-config config.json

The flow body is composition only: one call per step of the tutorial, in its order (with one change: the
data are downloaded and checked before any compute is provisioned, so bad data costs nothing).
"""

import sys

if __name__ == "__main__":  # answer --help and bad input at once, before the heavy imports below
    from flows.cli import check_command_line

    check_command_line()

from prefect import flow
from prefect.runtime import deployment
from prefect.task_runners import ThreadPoolTaskRunner

from flows.parameters import TrainingParameters
from steps.training import training_jobs
from tasks.baseline import train_baseline
from tasks.code import hash_training_code
from tasks.connect import connect_workspace, delete_compute_target, provision_compute
from tasks.download import download_mnist
from tasks.look import look_at_digits
from tasks.plan import plan_the_run
from tasks.register import register_best
from tasks.report import publish_report
from tasks.training import submit_training, wait_for_runs
from tasks.upload import upload_data
from workspaces import stop_all_runs
from workspaces.base import ModelVersion


def stop_training_runs(flow, flow_run, state) -> None:
    """Cancelled, interrupted or crashed: no training run may outlive (or keep billing after) its flow."""
    stop_all_runs()


@flow(
    name="mnist-training",
    task_runner=ThreadPoolTaskRunner(max_workers=32),  # type: ignore[arg-type]  # (Prefect's generics are invariant)
    validate_parameters=False,  # checked in the body, for one-line messages and the worker's own rules
    on_cancellation=[stop_training_runs],
    on_crashed=[stop_training_runs],
)
def mnist_training(params: TrainingParameters) -> ModelVersion | str:
    """Train the tutorial's model for each regularization rate and register the best (or, with `plan`, only
    say what that would do)."""
    # bad input stops here, before anything is done; a deployment run's folders must be the worker's to allow
    params = TrainingParameters.from_flow(params, from_deployment=deployment.id is not None)
    if params.plan:  # say what this run would do, and do nothing
        return plan_the_run(
            params.workspace,
            params.dataset,
            params.mirrors,
            params.download_timeout,
            params.compute,
            params.training_dir,
            params.experiment_name,
            params.regularization,
            params.refresh_cache,
            params.delete_compute,
        )

    ws = connect_workspace(params.workspace)
    files = download_mnist(ws, params.dataset, params.mirrors, params.download_timeout)
    sample = look_at_digits.submit(ws, files)  # a picture for the report: drawn while the work goes on
    compute = provision_compute(ws, params.compute)
    data = upload_data(ws, files, "mnist")
    code = hash_training_code(params.training_dir)

    baseline = train_baseline.submit(ws, files, code, compute)
    jobs = training_jobs(params.experiment_name, params.regularization, data, code, compute)
    runs = [submit_training.submit(ws, compute, job, code, params.refresh_cache) for job in jobs]
    results = wait_for_runs(runs)

    model = register_best(ws, results, files, code)
    if params.delete_compute:
        delete_compute_target(ws, compute)
    publish_report(ws, compute, sample, baseline.result(), results, model)
    return model.version


if __name__ == "__main__":
    from flows.cli import main

    sys.exit(main(mnist_training))
