"""The flow's events (steps/events.py) sent to Prefect's event feed, where automations act on them
(automations/). Sent from the task that saw the thing happen, so Prefect relates each event to its flow run and
task run; a step that came from the cache sends nothing."""

from prefect.events import emit_event

from steps.events import FlowEvent


def emit(event: FlowEvent | None) -> None:
    if event is not None:
        emit_event(event.event, resource=event.resource, payload=event.payload, related=event.related)
