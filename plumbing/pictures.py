"""A picture published once: an image artifact when its key's latest version holds another picture (or none), else
a link to the version that holds it. The report's pictures are data URIs of 20 to 60 KB, the same at every
cached run: sent again they were 135 KB of the 177 KB an all-cached run added to Prefect's database for good
(docs/benchmarks.md). The key's page (Artifacts, in the UI) still shows the picture as its latest version; the
run's page lists the link, whose text and description name the key."""

from dataclasses import dataclass
from uuid import UUID

from prefect.artifacts import create_image_artifact, create_link_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey
from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL


def artifact_page(artifact_id: UUID) -> str | None:
    """The UI's page of one artifact version; None when no server is named (nothing to link to)."""
    base = PREFECT_UI_URL.value() or (PREFECT_API_URL.value() or "").removesuffix("/api")
    return f"{base.rstrip('/')}/artifacts/artifact/{artifact_id}" if base else None


@dataclass(frozen=True)
class Picture:
    uri: str  # a data URI (or a file's)
    key: str
    description: str


def publish_pictures(*pictures: Picture) -> None:
    """Each picture, sent or linked; the latest versions of all their keys read in one request."""
    with get_client(sync_client=True) as client:
        latest = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[p.key for p in pictures])),
            limit=len(pictures),
        )
    held = {collection.key: collection for collection in latest}
    for picture in pictures:
        found = held.get(picture.key)
        page = artifact_page(found.latest_id) if found is not None and found.data == picture.uri else None
        if page is None:
            create_image_artifact(picture.uri, key=picture.key, description=picture.description)
            continue
        same = f"{picture.key}: the same picture as its latest version"  # a keyless card shows its description
        create_link_artifact(page, link_text=same, description=f"{same}. {picture.description}")
