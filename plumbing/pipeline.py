"""The flow's steps as one table (Kedro's pipeline): a row per step, the task that does it, the names of what it
needs (a field or property of the flow's parameters, or what an earlier row gave) and the name of what it gives.
The flow runs the rows in order (`Pipeline.run`), `--plan` walks them running nothing (`Pipeline.plan`), and the
run summary lists the steps in their order: adding a step is its module and one row (flows/main.py).

How a row runs: a task is called and its result awaited; `alongside` submits it and goes on (a later task given
its future waits for it itself); `for_each="job in jobs"` submits one call per item at once and `gather` waits for
them all; `when="delete_compute"` runs it only when that value is true; a plain function (not a task) runs inline,
as glue between tasks: it is not a step of the plan or of the summary.

How a row is planned: a cached step (plumbing/caching.py) looks its key up as the run would; another task runs
every time; a row may give its own `plan` (what provisioning would do, what each training run would do). A value
that a step running would produce is UNKNOWN to the rows after it, which then say so.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from prefect import Task
from prefect.futures import PrefectFuture
from prefect.utilities.callables import get_call_parameters

from plumbing.caching import WorkspaceTask
from workspaces.errors import TransientError, given_up

RUNS, CACHED = "run", "cached"
UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()  # given by a step that would run


class Row(NamedTuple):
    """A line of a plan: the step as its task run is named, what it would do (RUNS or CACHED), and why."""

    name: str
    plan: str
    why: str


@dataclass(frozen=True)
class Planned:
    """What a row would do: its lines, the value it would give (UNKNOWN if only running it tells), notes."""

    rows: list[Row]
    value: Any = UNKNOWN
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    does: Any  # a task (Prefect's or a WorkspaceTask), or a plain function
    needs: str  # names, comma-separated
    gives: str | None = None
    alongside: bool = False
    for_each: str | None = None  # "item in items"
    gather: Callable[[list[PrefectFuture]], Any] | None = None
    when: str | None = None
    plan: Callable[..., Planned] | None = None  # (step, values, *arguments) -> Planned; default: its cache record

    @property
    def task(self) -> Task | None:
        if isinstance(self.does, WorkspaceTask):
            return self.does.task
        return self.does if isinstance(self.does, Task) else None

    def named(self, arguments: list[Any]) -> str:
        """Its task run's name, as Prefect forms it from the call's parameters."""
        assert self.task is not None
        template = self.task.task_run_name
        if not isinstance(template, str):
            return self.task.name
        try:
            return template.format(**get_call_parameters(self.task.fn, tuple(arguments), {}))
        except (AttributeError, KeyError, TypeError):  # an UNKNOWN argument named in it
            return self.task.name


class Values(dict):
    """What the rows gave so far, over the flow's parameters (a name not given is the parameters' attribute);
    and, in a plan, the flow parameters the steps' cache policies read (refresh_cache)."""

    def __init__(self, params: Any, flow_parameters: Mapping[str, Any] | None = None, **given: Any):
        super().__init__(given)
        self.params = params
        self.flow_parameters = flow_parameters or {}

    def __missing__(self, name: str) -> Any:
        return getattr(self.params, name)

    def arguments(self, step: Step, **extra: Any) -> list[Any]:
        return [extra[name] if name in extra else self[name] for name in names(step.needs)]


def names(listed: str) -> list[str]:
    return [name.strip() for name in listed.split(",") if name.strip()]


def resolved(value: Any) -> Any:
    return value.result() if isinstance(value, PrefectFuture) else value


class Pipeline:
    def __init__(self, *steps: Step):
        self.steps = steps

    @property
    def task_names(self) -> list[str]:
        """Each step's task function name, in order: how Prefect's records of a flow run name its steps."""
        return [step.task.fn.__name__ for step in self.steps if step.task is not None]

    def run(self, params: Any) -> Values:
        values = Values(params, pipeline_steps=self.task_names)
        for step in self.steps:
            if step.when and not values[step.when]:
                continue
            try:
                result = self._run_step(step, values)
            except TransientError as error:  # its step retried it and gave up: the flow's message says so
                raise given_up(error) from error
            if step.gives:
                values[step.gives] = result
        return values

    @staticmethod
    def _run_step(step: Step, values: Values) -> Any:
        if step.for_each:
            item, _, items = step.for_each.partition(" in ")
            futures = [step.does.submit(*values.arguments(step, **{item: each})) for each in values[items]]
            return step.gather(futures) if step.gather else [future.result() for future in futures]
        arguments = values.arguments(step)
        if step.task is None:
            return step.does(*map(resolved, arguments))
        return step.does.submit(*arguments) if step.alongside else step.does(*arguments)

    def plan(self, params: Any, flow_parameters: Mapping[str, Any]) -> tuple[list[Row], list[str]]:
        """Each step's lines, in order, and the notes the rows gave; nothing is run."""
        values = Values(params, flow_parameters, pipeline_steps=self.task_names)
        rows: list[Row] = []
        notes: list[str] = []
        givers: dict[str, str] = {}
        for step in self.steps:
            if step.when and not values[step.when]:
                continue
            planned = self._plan_step(step, values, givers)
            rows += planned.rows
            notes += planned.notes
            if step.gives:
                values[step.gives] = planned.value
                # the row that makes the value unknown: one that runs (of a sweep whose first rate is cached, the
                # rate that trains, not the first row)
                running = [row for row in planned.rows if row.plan == RUNS]
                givers[step.gives] = (running or planned.rows)[0].name if planned.rows else step.gives
        return rows, notes

    @staticmethod
    def _plan_step(step: Step, values: Values, givers: dict[str, str]) -> Planned:
        if step.for_each and step.plan is None:
            raise TypeError(f"a for_each step plans itself: give {step.does} a plan")
        arguments = [] if step.for_each else values.arguments(step)
        if step.plan is not None:
            return step.plan(step, values, *arguments)
        unknown = [name for name, value in zip(names(step.needs), arguments, strict=True) if value is UNKNOWN]
        if step.task is None:  # glue: computed when what it needs is known
            return Planned([], UNKNOWN if unknown else step.does(*arguments))
        name = step.named(arguments)
        if unknown:
            return Planned([Row(name, RUNS, f"its input comes from {givers.get(unknown[0], unknown[0])}, which runs")])
        if isinstance(step.does, WorkspaceTask):
            found = step.does.plan(*arguments, flow_parameters=values.flow_parameters)
            value = UNKNOWN if found.value is None else found.value  # a record, even stale, gives what it held
            return Planned([Row(name, CACHED if found.cached else RUNS, found.why)], value)
        return Planned([Row(name, RUNS, f"--{step.when.replace('_', '-')}" if step.when else "every run")])
