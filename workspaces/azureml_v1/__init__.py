"""The Azure ML workspace through SDK v1 (azureml-core), as the tutorial: workspace.py is the adapter, sdk.py the seam
of calls that need the network, jobs.py the SDK objects built offline, registry.py the model registry. What both Azure
adapters share (errors, following a run, settings) is workspaces/azureml_common/."""
