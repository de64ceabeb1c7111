"""Prefect plumbing shared by the tasks: caching in the workspace (keys, flock locks, still-true checks),
the retry rule, forwarding the adapters' logs, progress artifacts, and a local Prefect server for the
benchmarks and the end-to-end tests. Nothing here knows what a step does."""
