"""The champion's history, so the trend is seen without MLflow or the studio: every registered version with its
date, accuracy, regularization and data, and when it was the champion (tasks/report.py publishes the table and
the chart as the `champion-history` artifacts)."""

from collections.abc import Sequence

from matplotlib.figure import Figure

from steps.charts import png_of
from workspaces.base import ModelVersion


def champion_periods(versions: Sequence[ModelVersion]) -> dict[str, tuple[str, str]]:
    """Each version that was champion: (from, until) its registration dates, "" until for the last. The alias
    moves only to a version more accurate than the champion of its day (steps/registry.py), so the periods follow
    from the versions in order; a version registered by hand, without an accuracy, was never one."""
    periods: dict[str, tuple[str, str]] = {}
    best: ModelVersion | None = None
    for version in versions:
        if version.accuracy >= 0 and (best is None or version.accuracy > best.accuracy):
            if best is not None:
                periods[best.version] = (periods[best.version][0], version.registered_at)
            best, periods[version.version] = version, (version.registered_at, "")
    return periods


def history_rows(versions: Sequence[ModelVersion], champion: ModelVersion | None) -> list[dict]:
    """One row per version, oldest first; `champion` is the version the registry names today (a person may have
    moved the alias by hand: the row says so)."""
    periods = champion_periods(versions)
    rows = []
    for version in versions:
        since, until = periods.get(version.version, ("", ""))
        was = f"{day(since)} to {day(until)}" if until else f"since {day(since)}" if since else ""
        if champion is not None and champion.version == version.version:
            was = f"{was} (now)" if was else "now (moved by hand)"
        rows.append(
            {
                "version": version.version,
                "registered": day(version.registered_at),
                "accuracy": round(version.accuracy, 4) if version.accuracy >= 0 else "",
                "regularization": version.regularization,
                "data sha256": version.tags.get("data_sha256", "")[:12],
                "champion": was,
            }
        )
    return rows


def day(iso: str) -> str:
    return iso.replace("T", " ")[:16]


def history_chart_png(versions: Sequence[ModelVersion]) -> bytes:
    """Accuracy by version, the versions that were champion marked."""
    scored = [v for v in versions if v.accuracy >= 0]
    periods = champion_periods(scored)
    figure = Figure(figsize=(6, 3.5))
    axis = figure.subplots()
    axis.plot([int(v.version) for v in scored], [v.accuracy for v in scored], marker="o", label="registered versions")
    champions = [v for v in scored if v.version in periods]
    axis.plot(
        [int(v.version) for v in champions],
        [v.accuracy for v in champions],
        linestyle="none",
        marker="*",
        markersize=14,
        label="champion when registered",
    )
    axis.set_xlabel("model version")
    axis.set_ylabel("test accuracy")
    axis.legend(loc="lower right")
    axis.grid(True, alpha=0.3)
    return png_of(figure)
