"""The code that runs on the compute (uploaded as the run's source directory); it never imports Prefect."""
