"""The snapshots of the fake Azure ML workspace (SDK v1): the content service's snapshot of a run's source folder,
each file a blob of the artifact store (the SDK puts them there itself, with the SAS URLs the service hands out),
and a snapshot built on its parent (only what changed since the SDK's cached latest snapshot is sent)."""

import uuid

from tests.workspaces.azureml_v1.fake_service import error_body


class Snapshots:
    """Mixin of FakeAzureMLv1: the content service's snapshots (a source folder's files, kept in Azurite)."""

    def _init_snapshots(self, arm_scope: str) -> None:
        self.snapshots: dict[str, dict[str, str]] = {}  # id -> file name -> blob name (in the artifact store)
        self.latest_snapshot: tuple[str, dict] | None = None  # (id, its DirTreeNode)
        self.route("GET", "service", rf"/content/v1.0{arm_scope}/snapshots/latest/metadata", self.snapshot_latest)
        self.route("POST", "service", rf"/content/v2.0{arm_scope}/snapshots/getblob", self.snapshot_blobs)
        self.route("POST", "service", rf"/content/v2.0{arm_scope}/snapshots/([^/]+)", self.snapshot_create)

    def snapshot_latest(self, request, *scope):
        if self.latest_snapshot is None:  # a workspace without snapshots: an empty tree, which the SDK skips
            return 200, {"id": None, "root": {}}, {}
        snapshot, root = self.latest_snapshot
        return 200, {"id": snapshot, "root": root}, {}

    def snapshot_blobs(self, request, *scope):
        """Where to put each file: a blob of the artifact store, with a SAS to write it."""
        folder = f"snapshots/{uuid.uuid4()}"
        nodes = [
            {"fullName": name, "blobUri": self.blob_url("workspaceartifactstore", f"{folder}/{name}", write=True)}
            for name in request.json()["FileNames"]
        ]
        return 200, {"fileNodes": nodes}, {}

    def snapshot_create(self, request, subscription, group, workspace, snapshot):
        body = request.json()
        parent = body.get("ParentSnapshotId")
        if parent and parent not in self.snapshots:
            return 404, error_body("NotFound", f"Snapshot {parent} not found", 404), {}
        files = dict(self.snapshots.get(parent, {}))
        for node in body["FileRevisionList"]["FileNodes"]:
            files[node["FullName"]] = blob_name_of(node["BlobUri"])
        kept = set(file_names(body["DirTreeNode"]))
        self.snapshots[snapshot] = {name: blob for name, blob in files.items() if name in kept}
        self.latest_snapshot = (snapshot, body["DirTreeNode"])
        return 200, {"id": snapshot}, {}


def blob_name_of(url: str) -> str:
    """The blob's name in its container, from its URL."""
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(url).path).lstrip("/").split("/", 1)[1]


def file_names(node: dict, prefix: str = "") -> list[str]:
    """The files of a snapshot's DirTreeNode (as the SDK's DirTreeJsonEncoderV2 writes it), by their full name."""
    names = []
    for name, child in (node.get("children") or {}).items():
        path = f"{prefix}{name}"
        names += [path] if child.get("type") == "File" else file_names(child, f"{path}/")
    return names


class Execution:
    """Mixin of FakeAzureMLv1: the execution service's snapshot run, which starts a real run (fake_runner.py) on
    the snapshot's files and the data its data references mount, read back from Azurite into the run's folder."""

    def _init_execution(self, arm_scope: str) -> None:
        start = rf"/execution/v1.0{arm_scope}/experiments/([^/]+)/snapshotrun"
        self.route("POST", "service", start, self.snapshot_run)

    def snapshot_run(self, request, subscription, group, workspace, experiment):
        run_id = request.arg("runId")
        if self.run_record(run_id) is not None:  # the service keeps run ids unique
            message = f"A run with runId {run_id} already exists in experiment {experiment}"
            return 409, error_body("UserError", message, 409), {}
        definition = request.json()
        config, snapshot = definition["Configuration"], definition.get("SnapshotId")
        if snapshot not in self.snapshots:
            return 404, error_body("UserError", f"Snapshot {snapshot} not found", 404), {}
        folder = self.runs_folder / run_id
        for name, blob in self.snapshots[snapshot].items():
            self.download_blob("workspaceartifactstore", blob, folder / "snapshot" / name)
        mounts = {}
        for name, reference in (config.get("dataReferences") or {}).items():
            target = folder / "data" / name
            self.download_folder(reference["dataStoreName"], reference["pathOnDataStore"], target)
            mounts[f"$AZUREML_DATAREFERENCE_{name}"] = str(target)
        self.start_run(run_id, experiment, config, [mounts.get(str(a), str(a)) for a in config["arguments"]])
        return 200, {"runId": run_id}, {}
