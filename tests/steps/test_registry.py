"""The registry's policy (steps/registry.py) on the function, over a registry kept in a dict: which run is
registered, when a version is reused, when the champion moves. Each adapter's own registry is held to the port
by the contract suite (tests/workspaces/contract/test_port.py); the flows show the policy end to end."""

import pytest

from steps.registry import best_run, register
from tests.workspaces.jobs import a_run_result as a_result
from workspaces.base import ModelVersion, RunResult


class Registry:
    """The four calls of the port that registration makes, over a dict: versions by number, one champion."""

    def __init__(self):
        self.versions: dict[str, ModelVersion] = {}
        self.champion_version: str | None = None
        self.moves: list[tuple[str, str | None]] = []

    def find_model_version(self, name, run_id):
        return next((v for v in self.versions.values() if v.run_id == run_id), None)

    def create_model_version(self, run, name, tags):
        number = str(len(self.versions) + 1)
        self.versions[number] = ModelVersion.from_registry(
            name, number, run.run_id, f"models/{number}", {**tags, "model_sha256": f"sha-{number}"}
        )
        return self.versions[number]

    def champion(self, name):
        return self.versions.get(self.champion_version or "")

    def set_champion(self, version, previous):
        self.moves.append((version.version, previous.version if previous else None))
        self.champion_version = version.version

    def hand_registered(self, run_id: str) -> None:
        """A version registered in the studio: no lineage tags, so no sha256 and no accuracy (-1)."""
        number = str(len(self.versions) + 1)
        self.versions[number] = ModelVersion.from_registry("sklearn_mnist", number, run_id, "by-hand", {})


def tags_of(run: RunResult) -> dict[str, str]:
    return {"accuracy": repr(run.accuracy), "regularization_rate": repr(run.regularization)}


def test_the_best_run_is_the_most_accurate_and_between_equals_the_stronger_regularization():
    runs = [a_result("a", 0.91, 0.1), a_result("b", 0.93, 0.4), a_result("c", 0.93, 0.8)]
    assert best_run(runs).run_id == "c"
    with pytest.raises(ValueError, match="no training run"):
        best_run([])


def test_the_champion_moves_only_to_a_more_accurate_version():
    registry = Registry()
    first = a_result("run-1", 0.90)
    made = register(registry, first, "sklearn_mnist", tags_of(first))
    assert (made.version, made.created, made.champion) == ("1", True, True)
    worse = a_result("run-2", 0.85)
    made = register(registry, worse, "sklearn_mnist", tags_of(worse))
    assert (made.version, made.created, made.champion) == ("2", True, False)
    better = a_result("run-3", 0.95)
    made = register(registry, better, "sklearn_mnist", tags_of(better))
    assert (made.version, made.champion) == ("3", True)
    assert registry.moves == [("1", None), ("3", "1")]


def test_a_run_registered_before_gets_its_version_back_and_nothing_moves():
    registry = Registry()
    run = a_result("run-1", 0.90)
    register(registry, run, "sklearn_mnist", tags_of(run))
    again = register(registry, run, "sklearn_mnist", tags_of(run))
    assert (again.version, again.created, again.champion) == ("1", False, True)
    assert len(registry.versions) == 1 and registry.moves == [("1", None)]


def test_a_version_registered_by_hand_is_not_reused_and_any_version_beats_it_as_champion():
    registry = Registry()
    registry.hand_registered("run-1")
    registry.champion_version = "1"  # made champion in the studio
    run = a_result("run-1", 0.50)
    made = register(registry, run, "sklearn_mnist", tags_of(run))
    assert (made.version, made.created, made.champion) == ("2", True, True)  # its own version, with lineage
    assert registry.moves == [("2", "1")]
