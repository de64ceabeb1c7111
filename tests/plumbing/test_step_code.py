"""A step's cache key covers the code it runs (plumbing/step_code.py): edit a step's module and that step runs
again, the others stay cached, and `--plan` says why; a comment or a reformatting is no change."""

import ast
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from plumbing import step_code as step_code_module
from plumbing.step_code import PACKAGES, _walked, module_facts, step_code, syntax_hash, what_changed
from tests.conftest import PROJECT
from tests.flows.flow_runs import flow_command

FINISHED = re.compile(r"Task run '([^']+)' - Finished in state (\w+)")


def test_a_step_runs_the_modules_it_imports_but_not_the_adapters():
    code = step_code("tasks.baseline")
    assert {"tasks/baseline.py", "steps/baseline.py", "steps/mnist.py", "training/utils.py"} <= code.keys()
    assert "workspaces/base.py" in code and not [name for name in code if name.startswith("workspaces/local/")]
    assert "steps/digits.py" not in code  # another step's work


def test_a_comment_or_a_reformatting_is_no_change_but_a_statement_is(tmp_path):
    module = tmp_path / "module.py"
    module.write_text('"""Doc."""\nx = fit(images[:60000])\n')
    before = syntax_hash(module)
    module.write_text('"""Doc."""\n\n# the whole training set\nx = fit( images[ : 60000 ] )  # all of it\n')
    assert module_facts.__wrapped__(module)[0] == before
    module.write_text('"""Doc."""\nx = fit(images[:2000])\n')
    assert module_facts.__wrapped__(module)[0] != before
    assert what_changed({"a.py": "1", "b.py": "2"}, {"a.py": "1", "b.py": "3", "c.py": "4"}) == ["b.py", "c.py"]


def test_steps_hashing_their_code_at_once_parse_one_file_at_a_time(monkeypatch):
    """A flow's steps compute their keys on its task threads, and CPython 3.11's parser must not run on two at
    once (step_code.py says why: a step lost its cache key in CI). Two steps' code hashed from two threads, each
    parse made slow: never two parses at the same time, and both hashes are what one thread computes."""
    alone = {module: _walked.__wrapped__(module) for module in ("tasks.baseline", "tasks.register")}
    real_parse, active, most = ast.parse, [], []

    def slow_parse(*args, **kwargs):
        active.append(1)
        most.append(len(active))
        time.sleep(0.005)
        try:
            return real_parse(*args, **kwargs)
        finally:
            active.pop()

    monkeypatch.setattr(step_code_module.ast, "parse", slow_parse)
    module_facts.cache_clear()
    together: dict[str, dict] = {}
    threads = [
        threading.Thread(target=lambda m=module: together.update({m: _walked.__wrapped__(m)})) for module in alone
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    module_facts.cache_clear()
    assert together == alone
    assert len(most) > 20 and max(most) == 1


def test_steps_asking_for_the_same_code_at_once_walk_its_imports_once(monkeypatch):
    """A flow's training steps all ask for their module's code as they start, on sixteen threads: one walk of its
    imports answers them all (sixteen walks at once were a second of every cached run), and each is given the
    same answer, its own copy."""
    alone = _walked.__wrapped__("tasks.training")
    real_imports, walks = step_code_module.imported_modules, []

    def slow_imports(path):
        walks.append(path)
        time.sleep(0.001)  # long enough for every thread to have asked before the first walk ends
        return real_imports(path)

    monkeypatch.setattr(step_code_module, "imported_modules", slow_imports)
    _walked.cache_clear()
    answers: list[dict] = []
    threads = [threading.Thread(target=lambda: answers.append(step_code("tasks.training"))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _walked.cache_clear()
    assert answers == [alone] * 16 and len({id(answer) for answer in answers}) == 16
    assert len(walks) == len(set(walks)) == len(alone)  # each file of the step's code read once, by one walk


@pytest.fixture
def project_copy(tmp_path):
    """The project's code in a folder a test may edit, run as `python <copy>/flows/main.py`."""
    copy = tmp_path / "project"
    for package in PACKAGES:
        shutil.copytree(PROJECT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def run_copy(copy, tmp_path, mirror, tiny_data, env, *flags) -> tuple[str, dict[str, str]]:
    """The copy's command line: its output, and each task run's final state by name."""
    command = flow_command(tmp_path, mirror.url, tiny_data[1], *flags)
    command[1] = str(copy / "flows" / "main.py")
    result = subprocess.run(
        command, env={**env, "PYTHONPATH": str(copy)}, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr, dict(FINISHED.findall(result.stdout + result.stderr))


def test_a_step_whose_code_changed_runs_again_and_the_others_stay_cached_and_a_comment_is_no_change(
    project_copy, tmp_path, mirror, tiny_data, subprocess_env
):
    _, first = run_copy(project_copy, tmp_path, mirror, tiny_data, subprocess_env)
    assert first["train the baseline"] == "Completed"
    baseline = project_copy / "steps" / "baseline.py"
    baseline.write_text(
        baseline.read_text().replace("model.fit(X_train, y_train)", "model.fit(X_train[:50], y_train[:50])")
    )
    plan, _ = run_copy(project_copy, tmp_path, mirror, tiny_data, subprocess_env, "--plan")
    assert "| train the baseline | run | code changed: steps/baseline.py |" in plan
    assert "| download tiny-mnist | cached |" in plan and "| train reg-0.8 | cached |" in plan
    # the same run shows a comment is no change: one is added to the module of another step, which stays cached
    digits = project_copy / "steps" / "digits.py"
    digits.write_text(digits.read_text().replace("SAMPLE_SIZE = 30", "SAMPLE_SIZE = 30  # the tutorial's count\n"))
    _, edited = run_copy(project_copy, tmp_path, mirror, tiny_data, subprocess_env)
    assert edited.pop("train the baseline") == "Completed"
    cached = ("download tiny-mnist", "look at the digits", "upload to mnist", "train reg-0.8", "register the best")
    assert {step: edited[step] for step in cached} == dict.fromkeys(cached, "Cached")
    # a statement changed: that step again, and only it (the edited baseline is cached now)
    digits.write_text(digits.read_text().replace("SAMPLE_SIZE = 30", "SAMPLE_SIZE = 10"))
    _, edited = run_copy(project_copy, tmp_path, mirror, tiny_data, subprocess_env)
    assert edited["look at the digits"] == "Completed" and edited["train the baseline"] == "Cached"
    assert os.path.isfile(tmp_path / "ws" / "reports" / "sample-digits.png")
