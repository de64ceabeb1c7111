"""What both Azure ML adapters (SDK v1 and v2) share: what an SDK error means for the flow (errors.py), and how
a run is followed, its log line by line, and what its end means (runs.py). It imports azure-core and requests,
which both SDKs bring, and neither SDK itself."""
