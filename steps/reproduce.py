"""`--reproduce`: is a registered version what its recorded inputs give? The verdict, with its evidence.

The workspace rebuilds the version (the local adapter's `rebuild`: recorded code, data, rate and threads, in a
fresh folder, unregistered); here the rebuilt model is compared with the recorded one: `identical` (the same
model file, byte for byte), `equivalent (same predictions)` (another file, the same digit for every test
image), or `different`. Library versions that differ from the recorded ones are reported, not hidden.
"""

from collections.abc import Mapping
from pathlib import Path

import joblib
import numpy as np
from pydantic import BaseModel, ConfigDict

from steps.code import LIBRARIES
from steps.registry import MODEL_NAME
from training.utils import load_split
from workspaces.base import LocalOnly
from workspaces.errors import DataError
from workspaces.files import sha256_file

IDENTICAL, EQUIVALENT, DIFFERENT = "identical", "equivalent (same predictions)", "different"


class Reproduction(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: str
    evidence: list[str]

    @property
    def reproduced(self) -> bool:
        return self.verdict in (IDENTICAL, EQUIVALENT)


def library_differences(tags: Mapping[str, str], here: Mapping[str, str]) -> list[str]:
    """'scikit-learn: 1.8.0 recorded, 1.9.1 here' for each library whose version differs from the recorded one."""
    return [
        f"{name}: {tags[f'version_{name}']} recorded, {here[name]} here"
        for name in LIBRARIES
        if f"version_{name}" in tags and tags[f"version_{name}"] != here.get(name)
    ]


def compare(recorded_model: Path, registered, rebuilt_model: Path, test_data: Path) -> tuple[str, list[str]]:
    """The verdict: by the model files' bytes, else by the coefficients and the test set's predictions. The
    registered model (loaded through the registry, its files checked) is what the rebuilt one is measured on."""
    recorded_sha, rebuilt_sha = sha256_file(recorded_model), sha256_file(rebuilt_model)
    lines = [f"model file: sha256 {rebuilt_sha[:16]} rebuilt, {recorded_sha[:16]} recorded"]
    if recorded_sha == rebuilt_sha:
        return IDENTICAL, lines
    rebuilt = joblib.load(rebuilt_model)
    lines.append(f"largest coefficient difference: {np.abs(rebuilt.coef_ - registered.coef_).max():.3g}")
    X_test, _ = load_split(str(test_data), "test")
    differing = int(np.sum(rebuilt.predict(X_test) != registered.predict(X_test)))
    lines.append(f"predictions on the {len(X_test)} test images: {differing} differ")
    return (EQUIVALENT if differing == 0 else DIFFERENT), lines


def reproduce(registry: LocalOnly, ref: str, folder: Path, here: Mapping[str, str]) -> Reproduction:
    """Rebuild version `ref` of sklearn_mnist in `folder` and judge it (ConfigError if there is no such version)."""
    version = registry.model_version(MODEL_NAME, ref)
    folder.mkdir(parents=True)  # only for a version that exists
    evidence = [
        f"reproducing {version.name} version {version.version} (run {version.run_id}, regularization "
        f"{version.regularization:g})"
    ]
    differences = library_differences(version.tags, here)
    evidence.append("  libraries differ: " + "; ".join(differences) if differences else "  libraries: as recorded")
    try:
        rebuilt = registry.rebuild(version, folder)
        registered = registry.load_model(version, folder / "registered")  # its files' sha256 checked
    except DataError as exc:  # recorded inputs gone or changed, or the registered model itself changed
        return Reproduction(verdict=DIFFERENT, evidence=[*evidence, f"  {exc}"])
    evidence += [f"  {note}" for note in rebuilt.notes]
    verdict, lines = compare(rebuilt.recorded_model, registered, rebuilt.rebuilt_model, rebuilt.test_data)
    return Reproduction(verdict=verdict, evidence=[*evidence, *(f"  {line}" for line in lines)])
