"""hash_training_code: the training folder's hash and library versions, an explicit input of the steps that
run the training code (see steps/code.py). Not cached: hashing is what tells whether it changed."""

from prefect import task

from plumbing.pipeline import RUNS, Planned, Row, Step, Values
from steps.code import TrainingCode, describe_training_code


@task(task_run_name="hash the training code")
def hash_training_code(folder: str) -> TrainingCode:
    return describe_training_code(folder)


def plan_hashing(step: Step, values: Values, folder: str) -> Planned:
    code = describe_training_code(folder)  # cheap, and what every later step's key needs
    return Planned([Row(step.named([folder]), RUNS, f"every run (code {code.sha256[:12]}...)")], code)
