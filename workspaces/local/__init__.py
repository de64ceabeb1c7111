"""The local workspace (the default): a folder plays Azure ML's workspace, datastore, compute and registry.

workspace.py is the adapter; compute.py the named targets and their node locks; runs.py, launcher.py and
processes.py the training runs as OS processes; outcome.py how a run ended; tracking.py MLflow's store.
"""
