"""How the contract suite (tests/workspaces/contract/) opens the local workspace: a fresh folder."""

from workspaces.local.workspace import LocalWorkspace


def opened(request, tmp_path):
    return LocalWorkspace(tmp_path / "ws")
