"""What each step of the tutorial does, as plain functions: callable without Prefect (Kedro's nodes).

The tasks in tasks/ wrap these with Prefect's decorator, logging and artifacts; tests call them directly.
Nothing here imports Prefect or a cloud SDK: a step talks to a workspace only through the port
(workspaces/base.py).
"""
