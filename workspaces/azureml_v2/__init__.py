"""The Azure ML workspace through SDK v2 (azure-ai-ml), today's Azure ML: workspace.py is the adapter, client.py
the seam that builds the MLClient and its credential (tests give it an HTTP transport), jobs.py the entities
built offline, storage.py the datastore's blobs, service.py the two data-plane calls the SDK does not offer
(a run's details and its MLflow metrics)."""
