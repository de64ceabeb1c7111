"""`make prune KEEP_DAYS=30`: the flow runs Prefect's database keeps forever, older than a retention the user sets,
deleted with their task runs, states, logs and artifacts, and the events past Prefect's own events retention.

It runs Prefect's own database vacuum (prefect.server.services.db_vacuum) on the database of the Prefect profile:
the one the command's temporary server uses when no PREFECT_API_URL is set. A Prefect server started with
`prefect server start` runs that vacuum itself when told to (PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED=
events,flow_runs, and PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD in seconds); the temporary server never
runs its flow-run part, so without this nothing of a daily run's history is ever deleted (docs/benchmarks.md).
Like Prefect's vacuum it deletes every finished flow run of that database, whatever its flow. SQLite reuses the
pages it frees: the file stops growing, but does not shrink.
"""

import argparse
import asyncio
import os
import sys
from datetime import timedelta

COUNTED = {"flow runs": "FlowRun", "task runs": "TaskRun", "logs": "Log", "artifacts": "Artifact", "events": "Event"}


def parse_days(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="make prune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep-days", required=True, help="Keep the flow runs that ended in the last N days.")
    days = parser.parse_args(argv).keep_days
    if not (days.isascii() and days.isdigit() and int(days) >= 1):
        parser.exit(2, f"error: KEEP_DAYS={days!r}: expected a whole number of days, 1 or more\n")
    return int(days)


async def counts() -> dict[str, int]:
    import sqlalchemy as sa
    from prefect.server.database import provide_database_interface

    db = provide_database_interface()
    async with db.session_context() as session:
        return {
            name: await session.scalar(sa.select(sa.func.count()).select_from(getattr(db, model)))
            for name, model in COUNTED.items()
        }


async def vacuum() -> tuple[dict[str, int], dict[str, int]]:
    """The rows of each kind before and after Prefect's vacuum of old flow runs and events."""
    from prefect.server.database import provide_database_interface
    from prefect.server.services import db_vacuum

    db = provide_database_interface()
    await db.create_db()  # Prefect's migrations, as its server runs them when it starts: none on a current database
    before = await counts()
    await db_vacuum.vacuum_old_flow_runs(db=db)
    await db_vacuum.vacuum_stale_artifact_collections(db=db)  # a key's latest version, if it was deleted
    await db_vacuum.vacuum_old_events(db=db)
    return before, await counts()


def main(argv: list[str] | None = None) -> int:
    days = parse_days(argv)
    if os.environ.get("PREFECT_API_URL"):
        print(
            f"error: PREFECT_API_URL={os.environ['PREFECT_API_URL']} names a server, which prunes its own database: "
            "start it with PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED=events,flow_runs and "
            f"PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD={days * 86400} (docs/deployments-and-teams.md)",
            file=sys.stderr,
        )
        return 2
    os.environ["PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD"] = str(int(timedelta(days=days).total_seconds()))
    from prefect.settings import get_current_settings

    before, after = asyncio.run(vacuum())
    gone = ", ".join(f"{before[name] - after[name]} {name}" for name in COUNTED)
    events_days = get_current_settings().server.events.retention_period.days
    print(
        f"pruned {gone} from the database of Prefect's profile: the flow runs that ended "
        f"more than {days} days ago, and the events older than {events_days} days (Prefect's events retention); "
        f"{after['flow runs']} flow runs kept"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
