"""The flow's parameters: every bad input is one line naming the value and what was expected."""

import os

import pytest

from flows.parameters import PUBLIC_MIRRORS, TrainingParameters
from workspaces.errors import ConfigError


def params(**arguments) -> TrainingParameters:
    return TrainingParameters.from_flow(arguments)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"regularization": [-1]}, r"regularization rate -1: expected a positive finite number, such as 0\.8"),
        ({"regularization": [0]}, r"regularization rate 0: expected a positive finite number"),
        ({"regularization": ["nan"]}, r"regularization rate 'nan': expected a positive finite number"),
        ({"regularization": ["inf"]}, r"regularization rate 'inf'"),
        ({"regularization": ["abc"]}, r"regularization rate 'abc'"),
        ({"regularization": []}, r"no regularization rate given; expected at least one positive number"),
        ({"backend": "azure"}, r"unknown backend 'azure'; expected 'local', 'azureml' or 'azureml-v2'"),
        ({"max_nodes": 0}, r"max_nodes 0: expected at least 1 node"),
        ({"max_nodes": 2, "min_nodes": 3}, r"max_nodes 2 is below min_nodes 3; expected max_nodes >= min_nodes"),
        ({"max_nodes": "two"}, r"max_nodes='two': expected a whole number"),
        ({"min_nodes": -1}, r"min_nodes -1: expected 0 or more"),
        ({"idle_seconds_before_scaledown": -5}, r"idle_seconds_before_scaledown -5: expected 0 or more"),
        ({"credentials_block": "My Block"}, r"credentials block 'My Block': expected a Prefect block name"),
        ({"refresh_cache": "perhaps"}, r"refresh_cache='perhaps': Input should be a valid boolean"),
        ({"unknown": 1}, r"unknown=1: Extra inputs are not permitted"),
        ({"compute_name": "x"}, r"compute name 'x': expected 2 to 16 letters"),
        ({"vm_priority": "spot"}, r"vm_priority 'spot': expected 'dedicated' or 'lowpriority'"),
        ({"mirrors": ["ftp://example.org/mnist"]}, r"mirror 'ftp://example.org/mnist': expected an http://"),
        ({"mirrors": ["/no/such/folder"]}, r"mirror '/no/such/folder': expected an http://, https:// or file://"),
        ({"mirrors": ["https://user:secret@example.org/"]}, r"a mirror URL must not carry a password"),
        ({"mirrors": []}, r"no mirror given"),
        ({"experiment_name": "my experiment"}, r"experiment name 'my experiment': expected letters, digits"),
        ({"training_dir": "/tmp"}, r"training folder '/tmp' has no train.py"),
        ({"dataset": {"name": "x", "files": []}}, r"dataset lacks train-images.gz"),
        ({"download_timeout": 0}, r"download timeout 0: expected a positive number of seconds, such as 30"),
    ],
)
def test_bad_input_is_one_clear_line(arguments, message):
    with pytest.raises(ConfigError, match=message) as error:
        params(**arguments)
    assert "\n" not in str(error.value)


def test_a_workspace_under_a_regular_file_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"workspace folder .* cannot be created: .*file is a file, not a folder"):
        params(workspace_dir=str(tmp_path / "file" / "ws"))
    assert not (tmp_path / "file").is_dir()


def test_defaults_are_the_tutorials():
    p = params()
    assert p.regularization == (0.8,) and p.experiment_name == "sklearn-mnist" and p.backend == "local"
    assert p.compute.name == "cpu-cluster" and p.compute.vm_size == "STANDARD_D2_V2" and p.compute.min_nodes == 0
    assert p.compute.max_nodes == os.cpu_count()  # local: as many runs at once as cores
    assert p.mirrors == PUBLIC_MIRRORS


def test_azure_keeps_the_tutorials_four_nodes(azure_config):
    pytest.importorskip("azureml.core", reason="the `azure` extra is not installed")
    assert params(backend="azureml", workspace_config=str(azure_config)).compute.max_nodes == 4


@pytest.mark.parametrize(
    "config, env, message",
    [
        (None, {}, r"Azure ML workspace config '.*missing.json' not found; download config.json"),
        ("not json", {}, r"Azure ML workspace config '.*' is not readable JSON"),
        ('{"subscription_id": "x"}', {}, r"lacks resource_group, workspace_name; expected subscription_id"),
        (
            '{"subscription_id": "abc", "resource_group": "g", "workspace_name": "w"}',
            {},
            r"subscription_id 'abc' is not a subscription id \(a GUID\)",
        ),
        (
            None,
            {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"},
            r"a service principal needs AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; "
            r"AZURE_CLIENT_SECRET not set",
        ),
    ],
)
@pytest.mark.parametrize("backend", ["azureml", "azureml-v2"])
def test_bad_azure_settings_are_refused_before_connecting(tmp_path, monkeypatch, config, env, message, backend):
    pytest.importorskip("azureml.core", reason="the `azure` extra is not installed")
    pytest.importorskip("azure.ai.ml", reason="the `azure-v2` extra is not installed")
    path = tmp_path / ("config.json" if config is not None else "missing.json")
    if config is not None:
        path.write_text(config)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        params(backend=backend, workspace_config=str(path))


def test_a_credentials_block_must_be_a_block_name():
    pytest.importorskip("azureml.core", reason="the `azure` extra is not installed")
    with pytest.raises(ConfigError, match=r"credentials block 'My Block': expected a Prefect block name"):
        params(backend="azureml", credentials_block="My Block")


def test_a_complete_service_principal_needs_no_config_file(monkeypatch):
    pytest.importorskip("azureml.core", reason="the `azure` extra is not installed")
    for name in (
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP",
        "AZUREML_WORKSPACE_NAME",
    ):
        monkeypatch.setenv(name, "x")
    assert params(backend="azureml", workspace_config="/nowhere/config.json").backend == "azureml"


def test_the_tutorials_compute_variables_are_honoured(monkeypatch):
    monkeypatch.setenv("AML_COMPUTE_CLUSTER_NAME", "gpu-cluster")
    monkeypatch.setenv("AML_COMPUTE_CLUSTER_MIN_NODES", "1")
    monkeypatch.setenv("AML_COMPUTE_CLUSTER_MAX_NODES", "3")
    monkeypatch.setenv("AML_COMPUTE_CLUSTER_SKU", "STANDARD_NC6")
    compute = params().compute
    assert (compute.name, compute.min_nodes, compute.max_nodes, compute.vm_size) == (
        "gpu-cluster",
        1,
        3,
        "STANDARD_NC6",
    )
    assert params(max_nodes=2).compute.max_nodes == 2  # a given value beats the environment


def test_a_bad_compute_variable_names_the_variable(monkeypatch):
    monkeypatch.setenv("AML_COMPUTE_CLUSTER_MAX_NODES", "many")
    with pytest.raises(ConfigError, match=r"AML_COMPUTE_CLUSTER_MAX_NODES='many': expected a whole number"):
        params()


def test_mirror_and_workspace_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_MIRROR", f"{tmp_path}, https://example.org/mnist/")
    monkeypatch.setenv("MNIST_FLOW_WORKSPACE", str(tmp_path / "ws"))
    p = params()
    assert p.mirrors == (str(tmp_path), "https://example.org/mnist/")
    assert p.workspace.directory == str(tmp_path / "ws")


def test_a_rate_given_twice_is_one_run():
    assert params(regularization=[0.8, "0.4", 0.8]).regularization == (0.8, 0.4)


def test_flow_arguments_are_the_validated_values(tmp_path):
    p = params(regularization=["0.5"], max_nodes="2", mirrors=[str(tmp_path)])
    assert p.given({"regularization", "max_nodes", "mirrors"}) == {
        "regularization": [0.5],
        "max_nodes": 2,
        "mirrors": [str(tmp_path)],
    }


def test_the_run_form_shows_defaults_choices_bounds_and_a_description_per_field():
    """The schema Prefect records for the deployments (and the server enforces) is the model's."""
    from flows.main import mnist_training

    schema = mnist_training.parameters.model_dump_for_openapi()
    assert schema["required"] == ["params"]
    fields = schema["definitions"]["TrainingParameters"]["properties"]
    assert list(fields) == list(TrainingParameters.model_fields)
    assert all(field.get("description") for field in fields.values())
    assert fields["regularization"]["default"] == [0.8] and fields["regularization"]["minItems"] == 1
    assert fields["regularization"]["items"]["exclusiveMinimum"] == 0
    priority = fields["vm_priority"]
    assert (priority["enum"], priority["default"]) == (["dedicated", "lowpriority"], "dedicated")
    assert fields["max_nodes"]["minimum"] == 1 and fields["compute_name"]["pattern"].startswith("^[A-Za-z]")
    # what the environment decides has no default in the form: it resolves on the worker, when the run starts
    for name in ("backend", "compute_name", "vm_size", "min_nodes", "max_nodes", "workspace_dir", "mirrors"):
        assert "default" not in fields[name] and "$" in fields[name]["description"], name


def test_a_deployments_backend_and_block_come_from_its_worker_environment(monkeypatch):
    pytest.importorskip("azureml.core", reason="the `azure` extra is not installed")
    monkeypatch.setenv("MNIST_FLOW_BACKEND", "azureml")
    monkeypatch.setenv("MNIST_FLOW_CREDENTIALS_BLOCK", "mnist-azureml")
    p = params(regularization=[0.4])  # a run that gives only its rates still goes where its deployment does
    assert (p.backend, p.credentials_block, p.compute.max_nodes) == ("azureml", "mnist-azureml", 4)
    assert params(backend="local").backend == "local"  # a value given beats the environment
    monkeypatch.setenv("MNIST_FLOW_BACKEND", "azure")
    with pytest.raises(ConfigError, match=r"unknown backend 'azure'"):
        params()


def test_a_folder_that_is_not_a_workspace_is_refused_and_a_new_empty_or_marked_one_is_not(tmp_path):
    """A non-empty folder without the workspace's marker was adopted (a symlink to / ran, and wrote about 440 MB
    into the root filesystem); it is refused in one line now, before anything is written."""
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "notes.txt").write_text("mine")
    root = tmp_path / "root-link"
    root.symlink_to("/")
    for folder in (home, root):
        with pytest.raises(ConfigError, match=r"holds other files and is not an mnist-flow workspace \(it has no "):
            TrainingParameters.from_flow({"workspace_dir": str(folder)})
    assert sorted(p.name for p in home.iterdir()) == ["Documents", "notes.txt"]
    (tmp_path / "empty").mkdir()
    earlier = tmp_path / "earlier"  # a workspace made before the marker: its layout
    (earlier / "runs").mkdir(parents=True)
    (earlier / "mlflow.db").write_bytes(b"")
    for fine in (tmp_path / "new", tmp_path / "empty", earlier):
        TrainingParameters.from_flow({"workspace_dir": str(fine)})


@pytest.mark.parametrize("value", ["99999999999999999999", "1e3", "2.0", "٣", " 4 5"])
def test_a_node_count_is_digits_not_anything_a_float_or_unicode_reads_as_one(monkeypatch, value):
    """These went through float() (or int(), which reads Arabic-Indic digits): 1e20 nodes was accepted."""
    monkeypatch.setenv("AML_COMPUTE_CLUSTER_MAX_NODES", value)
    with pytest.raises(ConfigError, match=f"AML_COMPUTE_CLUSTER_MAX_NODES={value!r}: expected a whole number"):
        TrainingParameters.from_flow({})


def test_a_mirror_variable_naming_no_mirror_and_a_bad_tracking_variable_are_named(monkeypatch):
    """MNIST_MIRROR="," fell back to the public mirrors without a word; MLFLOW_TRACKING_URI=garbage:// was refused
    as if --tracking-uri had been given."""
    monkeypatch.setenv("MNIST_MIRROR", " , ")
    with pytest.raises(ConfigError, match=r"MNIST_MIRROR=' , ': expected mirrors \(URLs or folders\) separated by"):
        TrainingParameters.from_flow({})
    monkeypatch.delenv("MNIST_MIRROR")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "garbage://")
    with pytest.raises(ConfigError, match=r"tracking URI 'garbage://': MLFLOW_TRACKING_URI takes an MLflow"):
        TrainingParameters.from_flow({})
