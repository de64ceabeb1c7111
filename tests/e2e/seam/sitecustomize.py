"""The test's fake of Azure ML behind the adapter, in processes the test does not start itself: Python runs this
module at the start of every process whose PYTHONPATH holds this folder (the e2e stack's worker gives it to what
it starts: a deployment run's flow process, and the process its cancellation hook runs in). It acts only when
MNIST_FLOW_TEST_AZURE names a fake, "azureml@127.0.0.1:PORT" (the SDK v1 fake's HTTP server) or
"azureml-v2@127.0.0.1:PORT" (the SDK v2 fake's bridge: tests/workspaces/azureml_v2/bridge.py): once the adapter's
module is imported, its seam is pointed there, as the in-process tests point it (tests/conftest.py)."""

import importlib.abc
import importlib.util
import os
import sys


def _seam_v1(module, address: str) -> None:
    from tests.workspaces.azureml_v1.http_seam import install

    install(int(address.rsplit(":", 1)[1]))


def _seam_v2(module, address: str) -> None:
    from tests.workspaces.azureml_v2.bridge import BridgeTransport
    from tests.workspaces.azureml_v2.fake_service import connect_to_fake

    module.make_client = lambda ref: connect_to_fake(BridgeTransport(address))
    module.AzureMLv2Workspace.poll_seconds = 0.2


SEAMS = {
    "azureml": ("workspaces.azureml_v1.workspace", _seam_v1),
    "azureml-v2": ("workspaces.azureml_v2.workspace", _seam_v2),
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `then(module)` once module `name` has been executed."""

    def __init__(self, name: str, then):
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            self.then(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if os.environ.get("MNIST_FLOW_TEST_AZURE"):
    _backend, _address = os.environ["MNIST_FLOW_TEST_AZURE"].split("@", 1)
    _module, _seam = SEAMS[_backend]
    sys.meta_path.insert(0, _AfterImport(_module, lambda module: _seam(module, _address)))
