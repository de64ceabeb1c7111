"""hash_training_code: the training folder's hash and library versions, an explicit input of the steps that
run the training code (see steps/code.py)."""

from prefect import task

from steps.code import TrainingCode, describe_training_code


@task(task_run_name="hash the training code")
def hash_training_code(folder: str) -> TrainingCode:
    return describe_training_code(folder)
