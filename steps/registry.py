"""The registry's policy, written once above the adapters: which run is registered, which version is champion.

An adapter only finds, creates and tags versions (workspaces/base.py). Here it is decided that registering a
run registered before returns its existing version, and that the alias `champion` moves only to a version
more accurate than the current champion (one whose accuracy is not recorded, registered by hand say, is
beaten by any). The registered file is fetched back, its sha256 checked, to score it: the confusion matrix is
the registered model's, not the run's memory.
"""

import logging
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from steps.code import TrainingCode
from workspaces.base import ModelVersion, RunResult, Workspace

log = logging.getLogger(__name__)
MODEL_NAME = "sklearn_mnist"
CHAMPION = "champion"  # the best version's alias (MLflow) or tag (Azure ML)
INPUT_CONTRACT = "784 float pixels in 0..1 (the 28x28 image's bytes divided by 255), row by row"


class RegisteredModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: ModelVersion
    test_accuracy: float  # of the registered file, recomputed on the test set
    confusion: list[list[int]]  # rows: true digit, columns: predicted digit


def best_run(results: Sequence[RunResult]) -> RunResult:
    """The most accurate run; between equals, the stronger regularization (the simpler model)."""
    if not results:
        raise ValueError("no training run to choose from")
    return max(results, key=lambda run: (run.accuracy, run.regularization))


def lineage_tags(run: RunResult, code: TrainingCode) -> dict[str, str]:
    return {
        "run_id": run.run_id,
        "accuracy": repr(run.accuracy),
        "regularization_rate": repr(run.regularization),
        "data_sha256": run.data_hash,
        "training_code_sha256": code.sha256,
        "input_contract": INPUT_CONTRACT,
        **{f"version_{name}": version for name, version in code.libraries.items()},
    }


def register(workspace: Workspace, run: RunResult, name: str, tags: dict[str, str]) -> ModelVersion:
    """The run's version of model `name`, created only once, and whether it now holds the champion alias.
    Callers hold the workspace's registry lock, so two flows never move the alias at once."""
    existing = workspace.find_model_version(name, run.run_id)
    if existing is not None and not existing.sha256:
        # registered outside the flow (by hand, in the studio): without its model's sha256 it cannot be checked
        # when loaded, so it is not reused; this run gets a version of its own, with its lineage
        log.warning(
            "version %s of %s was registered outside the flow (no model_sha256 tag); registering run %s "
            "again with its lineage",
            existing.version,
            name,
            run.run_id,
        )
        existing = None
    version = existing or workspace.create_model_version(run, name, tags)
    champion = workspace.champion(name)
    is_champion = champion is not None and champion.version == version.version
    if not is_champion and (champion is None or version.accuracy > champion.accuracy):
        workspace.set_champion(version, champion)
        is_champion = True
    return version.model_copy(update={"created": existing is None, "champion": is_champion, "url": run.url})
