"""The Azure ML workspace through SDK v1 (azureml-core), as the tutorial: workspace.py is the adapter,
sdk.py the seam of calls that need the network (tests replace it), jobs.py the SDK objects built offline,
monitor.py how a run is followed, errors.py what an SDK error means for the flow."""
