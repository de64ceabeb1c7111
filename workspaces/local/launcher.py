"""Start a local training run's entry script so that it cannot outlive the flow that started it.

Run as `python launcher.py train.py --data-folder ... --regularization ...` in the run's folder. It asks the
kernel to SIGKILL this process when its parent dies (PR_SET_PDEATHSIG), checks the parent is still the one
that started it (it may have died before the request), then runs the script as `python train.py` would:
same sys.argv, the script's folder first on sys.path. Standard library only: it runs before anything else.
forkserver.py uses the same two functions for the runs it forks.
"""

import ctypes
import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the flow's own clean-up still stops the run
        return
    if os.getppid() != expected_parent:
        os._exit(128 + signal.SIGKILL)


def run_script(argv: list[str]) -> None:
    """Run `argv[0]` as `python argv[0] argv[1:]` would, in this interpreter."""
    script = os.path.abspath(argv[0])
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(script))
    runpy.run_path(script, run_name="__main__")


def main() -> None:
    die_with_parent(int(os.environ["MNIST_FLOW_PARENT_PID"]))
    run_script(sys.argv[1:])


if __name__ == "__main__":
    main()
