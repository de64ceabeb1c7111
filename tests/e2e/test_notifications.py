"""Every day, as a team: the deployments' daily schedule (off until a person turns it on), the flow's events in
Prefect's feed, and the project's automations (automations/) sending a notification through a block when the
champion moves and when a flow run fails. A receiver on 127.0.0.1 stands in for the webhook's endpoint (Slack's,
or any); the block holds its URL, a secret that must reach no notification and no event."""

import base64
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.settings import temporary_settings

from tests.conftest import PROJECT
from tests.e2e.conftest import client_settings, latest_flow_run
from tests.flows.flow_runs import edit_train_script
from tests.waiting import eventually, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("prefect-stack")]
SECRET = "T000-B000-notify-secret-token"  # the part of a webhook URL that is a secret (as in Slack's)


class Receiver:
    """The webhook's endpoint: keeps each JSON body POSTed to it."""

    def __init__(self):
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append({"path": self.path, **json.loads(body or b"{}")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hooks/{SECRET}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def receiver(prefect_stack):
    """The receiver, a custom-webhook notification block pointing at it, and the project's automations applied
    with that block, as `make automations` applies them."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    found = Receiver()
    with temporary_settings(client_settings(prefect_stack)):
        block = CustomWebhookNotificationBlock(
            name="e2e receiver", url=found.url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
        )
        block.save("e2e-receiver", overwrite=True)
    env = {**prefect_stack.env, "MNIST_FLOW_NOTIFY_BLOCK": "custom-webhook/e2e-receiver"}
    for _ in range(2):  # applied twice, as every deploy does: still one of each
        applied = subprocess.run(
            [sys.executable, "-m", "plumbing.automations"], env=env, cwd=PROJECT, capture_output=True, text=True
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "applied 2 automation(s)" in applied.stdout
    yield found
    found.close()


def automations(stack) -> list:
    with temporary_settings(client_settings(stack)), get_client(sync_client=True) as client:
        return client.read_automations()


def events(stack, prefix: str, accept=bool) -> list:
    """The events of the stack's server whose name starts with `prefix`, oldest first, once `accept` takes them:
    the server stores the events it receives in batches, seconds after an automation may have acted on them."""
    return eventually(lambda: stored_events(stack, prefix), accept, timeout=60, poll=1)


def stored_events(stack, prefix: str) -> list:
    auth = base64.b64encode(stack.env["PREFECT_API_AUTH_STRING"].encode()).decode()
    answer = httpx.post(
        f"{stack.env['PREFECT_API_URL']}/events/filter",
        json={"filter": {"event": {"prefix": [prefix]}, "order": "ASC"}, "limit": 50},
        headers={"Authorization": f"Basic {auth}"},  # the team path's server asks for its auth string
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["events"]


def test_the_training_deployments_carry_a_daily_schedule_that_is_off(prefect_stack):
    with temporary_settings(client_settings(prefect_stack)), get_client(sync_client=True) as client:
        for name in ("local", "azureml", "azureml-v2"):
            deployment = client.read_deployment_by_name(f"mnist-training/{name}")
            (schedule,) = deployment.schedules
            assert schedule.active is False, name
            assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * *", "UTC"), name


def test_the_champion_moving_and_a_failed_run_each_notify_once_and_a_cached_run_not(
    prefect_stack, receiver, tiny_run_parameters, training_copy, tmp_path
):
    names = sorted(a.name for a in automations(prefect_stack) if a.name.startswith("mnist-flow"))
    assert names == ["mnist-flow champion moved", "mnist-flow run failed"]  # applied twice, one of each
    worse = tmp_path / "worse-training"
    worse.mkdir()
    for path in training_copy.iterdir():
        (worse / path.name).write_bytes(path.read_bytes())
    script = worse / "train.py"
    script.write_text(script.read_text().replace("clf.fit(X_train, y_train)", "clf.fit(X_train, y_train[::-1])"))
    params = {**tiny_run_parameters, "workspace_dir": str(tmp_path / "ws"), "regularization": [0.8]}

    def run(**changed) -> str:
        result = prefect_stack.run_deployment_and_watch("mnist-training/local", {**params, **changed})
        return f"{result.returncode}\n{result.stdout[-2000:]}"

    assert run(training_dir=str(worse)).startswith("0")  # version 1: the first champion, trained on bad labels
    wait_until(lambda: len(receiver.received) == 1, 90, "the first champion's notification")
    assert run().startswith("0")  # version 2, the tutorial's script: the champion moves from 1 to 2
    wait_until(lambda: len(receiver.received) == 2, 90, "the champion's move notified")
    assert run().startswith("0")  # the same again: all cached, nothing to tell
    edit_train_script(training_copy, "    raise RuntimeError('a training script that fails on purpose')\n")
    assert not run(training_dir=str(training_copy), regularization=[0.3]).startswith("0")
    wait_until(lambda: len(receiver.received) == 3, 90, "the failed flow run notified")

    first, moved, failed = receiver.received
    assert "sklearn_mnist version 1 is the champion" in first["subject"] and "the first champion" in first["body"]
    assert "sklearn_mnist version 2 is the champion" in moved["subject"]
    assert "more than version 1" in moved["body"]
    assert "mnist-training run" in failed["subject"] and "Failed" in failed["subject"]
    assert "reg-0.3" in failed["body"] and "fails on purpose" in failed["body"]
    assert not any(SECRET in json.dumps(n["subject"] + n["body"]) for n in receiver.received)

    versions = lambda found: [e["payload"]["version"] for e in found][-2:]  # noqa: E731
    registered = events(prefect_stack, "mnist-flow.model.registered", lambda found: versions(found) == ["1", "2"])
    assert versions(registered) == ["1", "2"]
    moved_to_2 = lambda found: found and found[-1]["payload"]["to_version"] == "2"  # noqa: E731
    champion = events(prefect_stack, "mnist-flow.model.champion-moved", moved_to_2)[-1]["payload"]
    assert (champion["from_version"], champion["to_version"]) == ("1", "2") and champion["gain"] > 0
    (training_failed,) = events(prefect_stack, "mnist-flow.training.failed")
    assert training_failed["payload"]["run_name"] == "reg-0.3"
    assert "fails on purpose" in training_failed["payload"]["error"]
    related = {r["prefect.resource.id"].split(".")[1] for r in training_failed["related"]}
    assert "flow-run" in related  # Prefect relates the event to the flow run that emitted it
    assert all(SECRET not in json.dumps(e) for e in registered + [training_failed])
    assert latest_flow_run(prefect_stack).state.is_failed()
