"""The champion's history (steps/history.py): which version was champion when, from the versions alone."""

from steps.history import history_chart_png, history_rows
from workspaces.base import ModelVersion


def version(number: int, accuracy: float, day: int) -> ModelVersion:
    return ModelVersion(
        name="sklearn_mnist",
        version=str(number),
        run_id=f"run-{number}",
        accuracy=accuracy,
        regularization=0.8,
        source="",
        sha256="",
        tags={"data_sha256": "abcdef0123456789"} if accuracy >= 0 else {},
        registered_at=f"2026-11-{day:02d}T06:00:00+00:00",
    )


def test_a_version_is_champion_from_its_registration_until_a_more_accurate_one():
    versions = [version(1, 0.9201, 1), version(2, 0.9263, 2), version(3, 0.9250, 3), version(4, 0.9270, 4)]
    rows = history_rows(versions, champion=versions[3])
    assert [r["champion"] for r in rows] == [
        "2026-11-01 06:00 to 2026-11-02 06:00",
        "2026-11-02 06:00 to 2026-11-04 06:00",
        "",  # less accurate than the champion of its day: never champion
        "since 2026-11-04 06:00 (now)",
    ]
    assert rows[0] == {
        "version": "1",
        "registered": "2026-11-01 06:00",
        "accuracy": 0.9201,
        "regularization": 0.8,
        "data sha256": "abcdef012345",
        "champion": "2026-11-01 06:00 to 2026-11-02 06:00",
    }


def test_a_champion_moved_by_hand_and_a_version_registered_by_hand_are_said_so():
    versions = [version(1, 0.93, 1), version(2, -1, 2)]  # 2: registered by hand, without the lineage tags
    rows = history_rows(versions, champion=versions[1])
    assert [r["champion"] for r in rows] == ["since 2026-11-01 06:00", "now (moved by hand)"]
    assert rows[1]["accuracy"] == "" and rows[1]["data sha256"] == ""


def test_the_chart_is_a_png():
    assert history_chart_png([version(1, 0.92, 1), version(2, 0.93, 2)]).startswith(b"\x89PNG")
