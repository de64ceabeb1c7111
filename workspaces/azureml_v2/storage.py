"""A datastore's blob container, through azure-storage-blob with the connection's transport.

SDK v2 uploads a local folder itself (`data.create_or_update(Data(path=<folder>))`, a command's local `code`)
through a storage client it builds without any transport of ours: `https://{account}.blob.{cloud's storage
suffix}` from the cloud's metadata, no way to pass a transport or an endpoint (azure/ai/ml/_utils/
_storage_utils.py, constants STORAGE_ACCOUNT_URLS). So the adapter uploads its data and its code itself, to the
same container with the same short-lived SAS the SDK asks for (`datastores.get(include_secrets=True)` →
listSecrets with expirableSecret), and gives the SDK `azureml://datastores/...` paths, which it only
references. That keeps every request on one transport, and lets the uploads be content-addressed: a file
whose sha256 the folder's manifest already records is not sent again.
"""

import json
from pathlib import Path
from typing import Any

from azure.ai.ml import MLClient
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient, ContainerClient

from workspaces.files import ignored, sha256_file
from workspaces.paths import inside

MANIFEST = "manifest.json"


class BlobFolder:
    """The blob container behind datastore `name`."""

    def __init__(self, ml: MLClient, name: str, transport: Any = None):
        self.options: dict[str, Any] = {"transport": transport} if transport is not None else {}
        datastore = ml.datastores.get(name, include_secrets=True)
        credentials = datastore.credentials
        secret = getattr(credentials, "sas_token", None) or getattr(credentials, "account_key", None)
        account_url = f"{datastore.protocol}://{datastore.account_name}.blob.{datastore.endpoint}"
        self.name = name
        self.container = ContainerClient(account_url, datastore.container_name, credential=secret, **self.options)
        self.url = f"{account_url}/{datastore.container_name}"  # without the SAS

    def read(self, path: str) -> bytes | None:
        try:
            return self.container.download_blob(path).readall()
        except ResourceNotFoundError:
            return None

    def write(self, path: str, data: bytes) -> None:
        self.container.upload_blob(path, data, overwrite=True)

    def upload_file(self, local: Path, path: str) -> None:
        with open(local, "rb") as source:
            self.container.upload_blob(path, source, overwrite=True)

    def download(self, path: str, dest: Path) -> Path:
        with open(dest, "wb") as out:
            self.container.download_blob(path).readinto(out)
        return dest

    def manifest(self, folder: str) -> dict[str, str]:
        raw = self.read(f"{folder}/{MANIFEST}")
        return json.loads(raw) if raw else {}

    def upload_folder(self, local: Path, folder: str) -> int:
        """Every file of `local` under `folder` (skipping what its manifest records with the same sha256), then
        the manifest; how many files were sent."""
        held, digests = self.manifest(folder), {}
        for path in sorted(p for p in Path(local).rglob("*") if p.is_file() and not ignored(p.relative_to(local))):
            relative = path.relative_to(local).as_posix()
            digests[relative] = sha256_file(path)
        sent = [name for name, digest in digests.items() if held.get(name) != digest]
        for name in sent:
            self.upload_file(inside(local, name), f"{folder}/{name}")
        if sent or not held:
            self.write(f"{folder}/{MANIFEST}", json.dumps({**held, **digests}, indent=1, sort_keys=True).encode())
        return len(sent)

    def read_url(self, url: str) -> str:
        """A blob by its (SAS) URL, as a run's details give its log files."""
        return BlobClient.from_blob_url(url, **self.options).download_blob().readall().decode("utf-8", "replace")
