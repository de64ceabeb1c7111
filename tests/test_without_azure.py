"""The project without the `azure` extra: everything but the Azure backend works, and asking for that backend
says how to install it. The SDK is made unimportable in a child process, as on a machine without it."""

import subprocess
import sys

from tests.conftest import PROJECT

BLOCK_AZUREML = """
import sys
class NoAzureML:
    def find_spec(self, name, path=None, target=None):
        if name == "azureml" or name.startswith("azureml."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoAzureML())
"""


def run_without_azureml(code: str, cwd=PROJECT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_AZUREML + code], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_asking_for_azure_without_the_extra_says_how_to_install_it(tmp_path):
    result = run_without_azureml(
        f"import runpy; sys.argv = ['flows/main.py', '--backend', 'azureml']; "
        f"runpy.run_path({str(PROJECT / 'flows' / 'main.py')!r}, run_name='__main__')",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --backend azureml needs the Azure ML SDK v1, which is not installed; "
        "run make install-azure (or pip install -e '.[azure]')"
    )


def test_the_local_workspace_and_its_tests_need_no_azure_sdk(processes):
    tests = [
        "tests/training",
        "tests/steps",
        "tests/workspaces/local",
        "tests/workspaces/azureml_v1/test_jobs.py",
        "tests/flows/test_parameters.py",
    ]
    # the tier of plain functions: collecting every module of these folders imports the local workspace's code,
    # and its fast tests run (its processes' tests, minutes long, prove nothing more about an import)
    options = ["-q", "-p", "no:cacheprovider", "-m", "not slow and not mnist"]
    result = run_without_azureml(f"import pytest; sys.exit(pytest.main({tests!r} + {options!r}))")
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and " skipped" in result.stdout  # the Azure-only tests skip, the rest pass
