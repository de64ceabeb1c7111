"""mnist-training: Azure ML's tutorial "Train an image classification model" as one Prefect flow.

    python flows/main.py --help
    python flows/main.py --regularization 0.8 --regularization 0.4 --regularization 0.1
    python flows/main.py --backend azureml --workspace-config config.json

TUTORIAL is the flow: the tutorial's cells in its order (with one change: the data are downloaded and checked
before any compute is provisioned, so bad data costs nothing), a row each, the tutorial's own code above it. A row
names the task that does the step, what it needs (a field of the parameters, or what an earlier row gave) and
what it gives (plumbing/pipeline.py). The flow runs the rows in order; `--plan` walks the same rows without
running anything; the run summary lists the steps in this order. Adding a step: its module (tasks/ over steps/)
and one row here.
"""

import sys

if __name__ == "__main__":  # answer --help and bad input at once, before the heavy imports below
    from flows.cli import check_command_line

    check_command_line()

import logging

from prefect import flow
from prefect.logging.loggers import flow_run_logger
from prefect.runtime import deployment
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows.parameters import TrainingParameters
from flows.stopping import said, stop_cancelled_flow_run
from plumbing.pipeline import Pipeline, Step
from steps.training import training_jobs
from tasks.baseline import train_baseline
from tasks.code import hash_training_code, plan_hashing
from tasks.connect import (
    connect_workspace,
    delete_compute_target,
    plan_connecting,
    plan_provisioning,
    provision_compute,
)
from tasks.download import download_mnist
from tasks.look import look_at_digits
from tasks.plan import plan_the_run
from tasks.register import register_best
from tasks.report import publish_report
from tasks.training import plan_training, submit_training, wait_for_runs
from tasks.upload import upload_data
from workspaces import stop_all_runs
from workspaces.base import ModelVersion
from workspaces.errors import FlowError

TUTORIAL = Pipeline(
    # ws = Workspace.from_config()
    Step(connect_workspace, "workspace", gives="ws", plan=plan_connecting),
    # urllib.request.urlretrieve(url, filename=...) for each of the four files
    Step(download_mnist, "ws, dataset, mirrors, download_timeout", gives="files"),
    # plt.imshow(...) of 30 random training images: drawn while the work goes on
    Step(look_at_digits, "ws, files", gives="sample", alongside=True),
    # compute_target = ComputeTarget.create(ws, name, AmlCompute.provisioning_configuration(...)), or the existing
    Step(provision_compute, "ws, compute", gives="compute_target", plan=plan_provisioning),
    # ds = ws.get_default_datastore(); ds.upload(src_dir='./data', target_path='mnist')
    Step(upload_data, "ws, files", gives="data"),
    # the script folder: its train.py and utils.py, as the runs receive it
    Step(hash_training_code, "training_dir", gives="code", plan=plan_hashing),
    # clf = LogisticRegression(); clf.fit(X_train, y_train): beside the runs
    Step(train_baseline, "ws, files, code, compute_target", gives="baseline", alongside=True),
    # est = Estimator(source_directory=script_folder, script_params={'--regularization': 0.8, ...}, ...)
    Step(training_jobs, "experiment_name, regularization, data, code, compute_target", gives="jobs"),
    # run = exp.submit(config=est); run.wait_for_completion(show_output=True), for each rate at once
    Step(
        submit_training,
        "ws, compute_target, job, code, refresh_cache",
        for_each="job in jobs",
        gather=wait_for_runs,
        gives="results",
        plan=plan_training,
    ),
    # model = run.register_model(model_name='sklearn_mnist', model_path='outputs/sklearn_mnist_model.pkl')
    Step(register_best, "ws, results, files, code", gives="model"),
    # compute_target.delete()
    Step(delete_compute_target, "ws, compute_target", when="delete_compute"),
    # what a person looks at in the UI: the digits, the metrics, the model card, the run summary
    Step(publish_report, "ws, compute_target, sample, baseline, results, model, pipeline_steps"),
)


def cancel_training_runs(flow, flow_run, state) -> None:
    """Cancelled, from anywhere: every training run of the flow run is cancelled (flows/stopping.py)."""
    logger = flow_run_logger(flow_run, flow)
    try:
        report = stop_cancelled_flow_run(flow_run.parameters, str(flow_run.id), flow_run.deployment_id is not None)
    except FlowError as error:
        logger.error("the flow run was stopped, but its training runs could not be looked for: %s", error)
        return
    logger.log(logging.INFO if report.complete else logging.WARNING, said(report))


def stop_this_process_runs(flow, flow_run, state) -> None:
    """Crashed: what this process holds is stopped (interrupted here); a killed process's runs go on."""
    stop_all_runs()


@flow(
    name="mnist-training",
    task_runner=ThreadPoolTaskRunner(max_workers=32),  # type: ignore[arg-type]  # (Prefect's generics are invariant)
    validate_parameters=False,  # checked in the body, for one-line messages and the worker's own rules
    on_cancellation=[cancel_training_runs],
    on_crashed=[stop_this_process_runs],
)
def mnist_training(params: TrainingParameters) -> ModelVersion | str:
    """Train the tutorial's model for each regularization rate and register the best (or, with `plan`, only
    say what that would do)."""
    # bad input stops here, before anything is done; a deployment run's folders must be the worker's to allow
    params = TrainingParameters.from_flow(params, from_deployment=deployment.id is not None)
    if params.plan:  # say what this run would do, and do nothing
        return plan_the_run(quote(TUTORIAL), params)
    return TUTORIAL.run(params)["model"].version


if __name__ == "__main__":
    from flows.cli import main

    sys.exit(main(mnist_training))
