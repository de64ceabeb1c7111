"""The project's automations (automations/*.yaml) applied to the Prefect server: `make automations`, and the
deploy path (`make deploy`). Each file is what `prefect automation create --from-file` takes, but for its
notification block, which it names as the placeholder `{{ notify_block }}`: the block is a setting,
MNIST_FLOW_NOTIFY_BLOCK ("<block type>/<name>", such as slack-webhook/team or custom-webhook/on-call), and the
block holds the URL, a secret that never is in the repository. Applied by name: an automation of the same name
is replaced, so applying twice leaves one of each (the CLI's `create` would add a second). Without the setting,
nothing is applied and one line says why.

    python -m plumbing.automations            # apply, with MNIST_FLOW_NOTIFY_BLOCK set
"""

import asyncio
import os
import sys
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # PyYAML ships no types; Prefect brings it
from prefect.client.orchestration import get_client
from prefect.events.schemas.automations import AutomationCore

FOLDER = Path(__file__).resolve().parents[1] / "automations"
SETTING = "MNIST_FLOW_NOTIFY_BLOCK"
PLACEHOLDER = "{{ notify_block }}"


def definitions(block_id: str, folder: Path = FOLDER) -> list[AutomationCore]:
    """The automations of `folder`, their notification block the one of id `block_id`."""
    return [
        AutomationCore.model_validate(yaml.safe_load(path.read_text().replace(PLACEHOLDER, block_id)))
        for path in sorted(folder.glob("*.yaml"))
    ]


async def apply(block: str, folder: Path = FOLDER) -> list[str]:
    """Create each automation of `folder` with the notification block `block` ("<type>/<name>"), replacing one of
    the same name; their names. A block that does not exist is a ValueError naming it."""
    block_type, _, name = block.partition("/")
    if not block_type or not name:
        raise ValueError(f"{SETTING}={block!r}: expected <block type>/<name>, such as slack-webhook/team")
    async with get_client() as client:
        try:
            document = await client.read_block_document_by_name(name, block_type)
        except Exception as exc:  # ObjectNotFound, or a block type the server does not know
            raise ValueError(f"no {block_type} block named {name!r} on the Prefect server ({SETTING})") from exc
        applied = []
        for automation in definitions(str(document.id), folder):
            for old in await client.read_automations_by_name(automation.name):
                await client.delete_automation(old.id)
            await client.create_automation(automation)
            applied.append(automation.name)
        return applied


def main() -> int:
    block = os.environ.get(SETTING, "")
    if not block:
        print(f"automations not applied: {SETTING} names no notification block (<block type>/<name>)")
        return 0
    try:
        names = asyncio.run(apply(block))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"applied {len(names)} automation(s) with {block}: " + ", ".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
