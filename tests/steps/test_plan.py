"""`--plan`'s reasoning as plain functions (steps/plan.py): what changed since the last run of a rate, the node-time
estimate, what provisioning would do, the markdown."""

from steps.plan import node_time, plan_markdown, provisions, what_changed
from workspaces.azureml_common.runs import seconds_between
from workspaces.base import ComputeSpec, DataRef, PastRun, TrainingJob, WorkspaceRef


def test_a_plan_names_the_hash_that_changed_since_the_last_run_of_a_rate():
    data = DataRef(datastore="d", path="mnist", files={"train-images.gz": "1" * 64}, mount="/m")
    job = TrainingJob(
        experiment="e",
        run_name="reg-0.5",
        regularization=0.5,
        data=data,
        source_dir="t",
        source_hash="c" * 64,
        compute="c",
    )
    last = PastRun(run_id="r1", name="reg-0.5", regularization="0.5", data_hash="a" * 64, source_hash="c" * 64)
    assert (
        what_changed(job, [last])
        == f"data changed since run r1 (sha256 aaaaaaaaaaaa... then, {data.content_hash[:12]}... now)"
    )
    other_code = last.model_copy(update={"source_hash": "b" * 64, "data_hash": data.content_hash})
    assert what_changed(job, [other_code]).startswith("training code changed since run r1 (sha256 bbbbbbbbbbbb...")
    other_rate = last.model_copy(update={"regularization": "0.8"})
    assert what_changed(job, [other_rate]) == "no earlier finished run of reg-0.5"
    assert (
        what_changed(job, [last.model_copy(update={"data_hash": data.content_hash})]) == "same data and code as run r1"
    )


def test_a_run_history_time_that_is_not_a_time_leaves_the_run_out_of_the_estimate():
    assert seconds_between("2026-11-28T10:00:00Z", "2026-11-28T10:02:30.5Z") == 150.5  # the SDKs' form
    for start, end in (
        ("yesterday", "2026-11-28T10:00:00Z"),
        (None, "2026-11-28T10:00:00Z"),
        ("2026-11-28T10:00:00Z", "2026-11-28T09:00:00Z"),
    ):
        assert seconds_between(start, end) is None
    unknown = PastRun(run_id="r1", name="reg-0.5", regularization="0.5", data_hash="a", source_hash="c")
    assert "no history yet" in node_time(1, [unknown], "e")
    assert "about 5.0 node-minutes for 2 training run(s)" in node_time(
        2, [unknown.model_copy(update={"node_seconds": 150})], "e"
    )


def test_provisioning_says_create_with_the_settings_or_attach_with_the_scale():
    spec = ComputeSpec(min_nodes=0, max_nodes=2)
    assert provisions(spec, "STANDARD_D2_V2, 0 to 2 nodes, dedicated", attached=False) == (
        "creates it (STANDARD_D2_V2, 0 to 2 nodes, dedicated)"
    )
    assert provisions(spec, "ignored", attached=True) == "attaches the existing target (0 to 2 nodes)"


def test_the_markdown_counts_what_would_run_and_promises_nothing_was_done():
    rows = [("download mnist", "cached", "its record for these inputs holds"), ("train reg-0.8", "run", "no record")]
    ws = WorkspaceRef(backend="local", directory="/ws")
    text = plan_markdown(rows, ws, ["Node time: none (no training run would train)."])
    assert text.startswith("# Plan: 1 of 2 steps would run")
    assert "| train reg-0.8 | run | no record |" in text and "Node time: none" in text
    assert text.endswith("Nothing was downloaded, uploaded, provisioned, submitted or registered.")
