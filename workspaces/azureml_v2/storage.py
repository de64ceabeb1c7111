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
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from azure.ai.ml import MLClient
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobClient, ContainerClient

from workspaces.files import ignored, sha256_file
from workspaces.paths import inside

MANIFEST = "manifest.json"
SAS_MARGIN = timedelta(minutes=5)  # a SAS is renewed this long before its expiry
# a 403's codes that a new SAS may cure: Azure Storage's for an expired or bad signature, Azurite's for an expired SAS
SAS_REFUSED = ("AuthenticationFailed", "AuthorizationFailure")
log = logging.getLogger(__name__)


class BlobFolder:
    """The blob container behind datastore `name`.

    Its SAS is short-lived (the SDK asks for one hour) and a flow follows its jobs for longer: a SAS is asked for
    again a few minutes before it expires, and once more when the storage refuses one as expired or invalid (a 403
    that says AuthenticationFailed, or Azurite's AuthorizationFailure), whatever its stated expiry.

    A datastore that keeps no secret (identity-based access), or whose storage refuses to list its secrets, is
    reached with the connection's own credential (an AAD token, which the storage client renews itself), as the
    SDK's own uploads do (azure/ai/ml/_artifacts/_artifact_utilities.py, get_datastore_info)."""

    def __init__(self, ml: MLClient, name: str, transport: Any = None, identity: Any = None, **options: Any):
        self.ml, self.name, self.identity = ml, name, identity
        self.options: dict[str, Any] = {"transport": transport, **options} if transport is not None else options
        self._open()

    def _open(self) -> None:
        try:
            datastore = self.ml.datastores.get(self.name, include_secrets=True)
        except HttpResponseError as error:  # listSecrets refused (a 403, or a 400 for a credential-less store)
            if error.status_code not in (400, 403) or self.identity is None:
                raise
            log.info("datastore %r gave no secret (%s); using the connection's credential", self.name, error.reason)
            datastore = self.ml.datastores.get(self.name)
        credentials = datastore.credentials
        sas = getattr(credentials, "sas_token", None)
        secret = sas or getattr(credentials, "account_key", None) or self.identity
        self.expires = sas_expiry(sas) if sas else None
        account_url = f"{datastore.protocol}://{datastore.account_name}.blob.{datastore.endpoint}"
        self.container = ContainerClient(account_url, datastore.container_name, credential=secret, **self.options)
        self.url = f"{account_url}/{datastore.container_name}"  # without the SAS

    def _with_container(self, action: Callable[[ContainerClient], Any]) -> Any:
        if self.expires is not None and datetime.now(UTC) >= self.expires - SAS_MARGIN:
            log.info("the SAS of datastore %r expires at %s: asking for a new one", self.name, self.expires)
            self._open()
        try:
            return action(self.container)
        except HttpResponseError as error:  # azure-storage-blob: ClientAuthenticationError or HttpResponseError
            if error.status_code != 403 or getattr(error, "error_code", None) not in SAS_REFUSED:
                raise
            log.info("the storage refused the SAS of datastore %r; asking for a new one", self.name)
            self._open()
            return action(self.container)

    def read(self, path: str) -> bytes | None:
        try:
            return self._with_container(lambda container: container.download_blob(path).readall())
        except ResourceNotFoundError:
            return None

    def write(self, path: str, data: bytes) -> None:
        self._with_container(lambda container: container.upload_blob(path, data, overwrite=True))

    def upload_file(self, local: Path, path: str) -> None:
        def upload(container: ContainerClient) -> None:
            with open(local, "rb") as source:
                container.upload_blob(path, source, overwrite=True)

        self._with_container(upload)

    def download(self, path: str, dest: Path) -> Path:
        def download(container: ContainerClient) -> None:
            with open(dest, "wb") as out:
                container.download_blob(path).readinto(out)

        self._with_container(download)
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

    def names(self, prefix: str) -> list[str]:
        """The blobs whose names start with `prefix`, one listing."""
        return self._with_container(lambda container: list(container.list_blob_names(name_starts_with=prefix)))

    def read_blob_from(self, path: str, start: int) -> bytes:
        """A blob's bytes from `start` on, by its name in this container: as `read_from`, with this folder's
        credential (renewed as it expires)."""
        return ranged(lambda: self._with_container(lambda c: c.download_blob(path, offset=start).readall()))

    def read_from(self, url: str, start: int) -> bytes:
        """A blob's bytes from `start` on, by its (SAS) URL, as a run's details give its log files: a ranged read,
        so a log is read once. b"" for one that is not there (yet: a log file is listed before its first bytes
        reach the store, and is read again at the next poll) or has nothing new (the storage answers 416)."""
        return ranged(lambda: BlobClient.from_blob_url(url, **self.options).download_blob(offset=start).readall())


def ranged(read: Callable[[], bytes]) -> bytes:
    """What a ranged read gives, b"" for a blob not there (yet) or with nothing past the range's start (416)."""
    try:
        return read()
    except ResourceNotFoundError:
        return b""
    except HttpResponseError as error:
        if error.status_code == 416:
            return b""
        raise


def sas_expiry(sas: str) -> datetime | None:
    """When a SAS token expires: its `se` field (ISO 8601, UTC); None where it has none."""
    found = parse_qs(sas.lstrip("?")).get("se")
    if not found:
        return None
    return datetime.fromisoformat(found[0].replace("Z", "+00:00"))
