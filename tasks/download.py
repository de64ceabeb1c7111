"""download_mnist: the tutorial's `urlretrieve` of four files, made dependable (steps/download.py), with a
progress bar and a progress artifact. Cached by the dataset description (its files and sha256s); a cached
download whose files are gone or changed is fetched again."""

from prefect import get_run_logger

from plumbing.caching import workspace_task
from plumbing.progress import ProgressReport
from plumbing.retries import retrying
from steps.dataset import Dataset, LocalFiles
from steps.download import download_files, files_intact
from workspaces.base import WorkspaceRef


@workspace_task(
    still_true=lambda files, inputs: files_intact(files),
    exclude=("mirrors", "timeout"),
    task_run_name="download {dataset.name}",
    **retrying(),
)
def download_mnist(ws: WorkspaceRef, dataset: Dataset, mirrors: tuple[str, ...], timeout: float) -> LocalFiles:
    """The four files into the workspace's downloads/, checked; bad data stops the flow here, before any
    compute is provisioned."""
    with ProgressReport("download-progress", f"Downloading {dataset.name}") as report:
        logger = get_run_logger()
        return download_files(dataset, ws.downloads_dir, mirrors, report.update, logger.info, timeout, logger.warning)
