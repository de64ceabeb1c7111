"""Benchmarks: the flow against the bare tutorial script, cold and warm, on the full MNIST. Not a test.

    make bench          (or: .venv/bin/python -m benchmarks.run --repeat 3 --rates 1,2,4)

In one invocation on one machine, for 1, 2 and 4 regularization rates, four commands alternate so that drift
affects them alike: the bare tutorial script (bare_tutorial.py), the flow on a fresh workspace (cold), the
same command again (warm, all cached) and a one-task flow importing the same modules (empty_flow.py, the floor
for warm). Every flow runs against one Prefect server of the benchmark's own. Each command is repeated and
its median reported; the table is printed and the figures written as JSON.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from benchmarks.measure import PROJECT, flow_run_record, measure, training_runs
from plumbing.prefect_server import PrefectServer

# the tutorial's rate first; a count of rates takes the first ones (a count beyond these is refused)
RATES = (0.8, 0.4, 0.2, 0.1, 1.6, 0.6, 0.3, 0.05, 1.2, 0.9, 0.5, 0.25, 2.4, 0.7, 0.15, 3.2)

PLOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "cold-vs-rates.png"  # docs/benchmarks.md shows it


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "scikit-learn": version("scikit-learn"),
        "prefect": version("prefect"),
        "mlflow": version("mlflow"),
    }


def one_repetition(
    count: int, repetition: int, mnist: str, folder: Path, server: PrefectServer, warm_repeat: int
) -> dict:
    rates = [arg for rate in RATES[:count] for arg in ("--regularization", str(rate))]
    bare = measure([sys.executable, "benchmarks/bare_tutorial.py", "--data-folder", mnist, *rates], server.env)
    workspace = folder / f"workspace-{count}-{repetition}"
    flow = [sys.executable, "flows/main.py", "--workspace-dir", str(workspace), "--mirror", mnist, *rates]
    cold = measure(flow, server.env)
    cold_record, runs = flow_run_record(server), training_runs(workspace)
    warm, empty = [], []
    for _ in range(warm_repeat):  # a few seconds each: alternated, several times, for a ratio steadier than one pair
        warm.append(measure(flow, server.env).seconds)
        warm_record = flow_run_record(server)
        empty.append(measure([sys.executable, "benchmarks/empty_flow.py"], server.env).seconds)
    fits = json.loads(bare.output.strip().splitlines()[-1])["fits"]
    return {
        "bare_seconds": bare.seconds,
        "cold_seconds": cold.seconds,
        "warm_seconds": statistics.median(warm),
        "empty_seconds": statistics.median(empty),
        "warm_runs": warm,
        "empty_runs": empty,
        "flow_peak_mb": cold.peak_mb,
        "run_peak_mb": max((r["peak_memory_mb"] for r in runs), default=0.0),
        # each run's CPU besides its fit (imports, data, MLflow), and its fit's, from its own process
        "run_overhead_cpu_s": statistics.median(r["process_cpu_seconds"] - r["fit_cpu_seconds"] for r in runs),
        "run_fit_cpu_s": statistics.median(r["fit_cpu_seconds"] for r in runs),
        "bare_baseline": fits[0],
        "flow_baseline": {
            "accuracy": cold_record["baseline_accuracy"],
            "fit_seconds": cold_record["baseline_fit_seconds"],
            "cpu_seconds": cold_record["baseline_cpu_seconds"],
        },
        "cold_steps": cold_record["steps"],
        "warm_steps": warm_record["steps"],
    }


def medians(repetitions: list[dict]) -> dict:
    median = lambda key: statistics.median(r[key] for r in repetitions)  # noqa: E731
    summary = {
        key: round(median(key), 2)
        for key in (
            "bare_seconds",
            "cold_seconds",
            "warm_seconds",
            "empty_seconds",
            "flow_peak_mb",
            "run_peak_mb",
            "run_overhead_cpu_s",
            "run_fit_cpu_s",
        )
    }
    summary["spread"] = spreads(repetitions)
    summary["overhead/fit"] = round(summary["run_overhead_cpu_s"] / summary["run_fit_cpu_s"], 2)
    summary["cold/bare"] = round(summary["cold_seconds"] / summary["bare_seconds"], 2)
    summary["warm/empty"] = round(summary["warm_seconds"] / summary["empty_seconds"], 2)
    for side in ("bare_baseline", "flow_baseline"):
        summary[side] = {
            k: round(statistics.median(r[side][k] or 0.0 for r in repetitions), 4)
            for k in ("accuracy", "fit_seconds", "cpu_seconds")
        }
    steps = repetitions[0]["cold_steps"]
    summary["cold_steps"] = {
        s: round(statistics.median(r["cold_steps"].get(s, 0.0) for r in repetitions), 2) for s in steps
    }
    return summary


def spreads(repetitions: list[dict]) -> dict:
    """Each timed figure's lowest and highest measurement: every repetition's, and for warm and empty every run of
    each; a ratio's from the pairs measured together (bare and cold of one repetition, warm and the empty flow run
    after it)."""
    low_high = lambda values: [round(min(values), 2), round(max(values), 2)]  # noqa: E731
    warm = [w for r in repetitions for w in r["warm_runs"]]
    empty = [e for r in repetitions for e in r["empty_runs"]]
    return {
        "bare_seconds": low_high([r["bare_seconds"] for r in repetitions]),
        "cold_seconds": low_high([r["cold_seconds"] for r in repetitions]),
        "cold/bare": low_high([r["cold_seconds"] / r["bare_seconds"] for r in repetitions]),
        "warm_seconds": low_high(warm),
        "empty_seconds": low_high(empty),
        "warm/empty": low_high([w / e for w, e in zip(warm, empty, strict=True)]),
    }


def slopes(results: dict) -> dict:
    """Seconds each rate beyond the last count added to the cold flow, against the fit's CPU over the cores
    (what one more rate must cost at least when the runs share the machine's cores)."""
    counts, cores = sorted(results), os.cpu_count() or 1
    return {
        later: {
            "seconds_per_rate": round(
                (results[later]["cold_seconds"] - results[earlier]["cold_seconds"]) / (later - earlier), 2
            ),
            "fit_cpu_per_core": round(results[later]["run_fit_cpu_s"] / cores, 2),
        }
        for earlier, later in zip(counts, counts[1:], strict=False)
    }


def table(results: dict) -> str:
    lines = [
        "| rates | bare s | flow cold s | cold/bare | flow warm s | empty flow s | warm/empty "
        "| flow peak MB | run peak MB | run CPU besides fit s | fit CPU s | besides/fit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for count, m in results.items():
        spread = lambda key: f"{m[key]} ({m['spread'][key][0]} to {m['spread'][key][1]})"  # noqa: E731, B023
        lines.append(
            f"| {count} | {spread('bare_seconds')} | {spread('cold_seconds')} | {spread('cold/bare')} | "
            f"{spread('warm_seconds')} | {spread('empty_seconds')} | {spread('warm/empty')} | {m['flow_peak_mb']} | "
            f"{m['run_peak_mb']} | {m['run_overhead_cpu_s']} | {m['run_fit_cpu_s']} | {m['overhead/fit']} |"
        )
    lines += ["", "| rates | s each extra rate adds (cold) | fit CPU s / cores | ratio |", "|---|---|---|---|"]
    for count, s in slopes(results).items():
        ratio = s["seconds_per_rate"] / s["fit_cpu_per_core"]
        lines.append(f"| to {count} | {s['seconds_per_rate']} | {s['fit_cpu_per_core']} | {ratio:.2f} |")
    lines += [
        "",
        "| baseline `LogisticRegression()`, rates | bare (float64) accuracy | fit s | CPU s "
        "| flow (float32, one thread) accuracy | fit s | CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for count, m in results.items():
        bare, flow = m["bare_baseline"], m["flow_baseline"]
        lines.append(
            f"| {count} | {bare['accuracy']} | {bare['fit_seconds']:.1f} | {bare['cpu_seconds']:.1f} | "
            f"{flow['accuracy']} | {flow['fit_seconds']:.1f} | {flow['cpu_seconds']:.1f} |"
        )
    last_count, last = list(results.items())[-1]
    lines += ["", f"| step (cold, {last_count} rates; longest run for submit_training) | s |", "|---|---|"]
    lines += [f"| {step} | {seconds} |" for step, seconds in last["cold_steps"].items()]
    return "\n".join(lines)


def plot(results: dict, path: Path, machine: dict) -> None:
    """Cold seconds against the number of rates, for the bare script and the flow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted(results)
    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for key, label in (
        ("bare_seconds", "bare tutorial script"),
        ("cold_seconds", "flow, cold (fresh workspace)"),
        ("warm_seconds", "flow, warm (all cached)"),
    ):
        axes.plot(counts, [results[c][key] for c in counts], marker="o", label=label)
    axes.set_xlabel("regularization rates")
    axes.set_ylabel("seconds")
    axes.set_title(f"Full MNIST on {machine['cpus']} cores: time against rates")
    axes.set_xticks(counts)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mnist",
        default=os.environ.get("MNIST_MIRROR", str(PROJECT.parent / "shared/data/mnist")),
        help="a folder with the four MNIST files (default: $MNIST_MIRROR or ../shared/data/mnist)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--warm-repeat", type=int, default=3, help="warm and empty runs, alternated, after each cold one (default 3)"
    )
    parser.add_argument("--rates", default="1,4,16", help="counts of regularization rates, comma-separated")
    parser.add_argument("--output", default=str(PROJECT / "benchmarks" / "results" / "latest.json"))
    args = parser.parse_args()
    counts = [int(c) for c in args.rates.split(",")]
    if not all(0 < count <= len(RATES) for count in counts):
        parser.error(f"--rates {args.rates}: each count must be 1 to {len(RATES)} (benchmarks/run.py's RATES)")
    with (
        tempfile.TemporaryDirectory(prefix="mnist-flow-bench-") as folder,
        PrefectServer(Path(folder) / "prefect") as server,
    ):
        raw = {c: [] for c in counts}
        for repetition in range(args.repeat):  # alternate: every command once per round, then the next round
            for count in counts:
                raw[count].append(one_repetition(count, repetition, args.mnist, Path(folder), server, args.warm_repeat))
                print(f"round {repetition + 1}/{args.repeat}, {count} rate(s): done", file=sys.stderr, flush=True)
    results = {count: medians(reps) for count, reps in raw.items()}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": machine(),
        "repeat": args.repeat,
        "warm_repeat": args.warm_repeat,
        "mode": "one running Prefect server on 127.0.0.1",
        "results": results,
        "raw": raw,
    }
    report["slopes"] = slopes(results)
    Path(args.output).write_text(json.dumps(report, indent=1))
    plot(results, PLOT, report["machine"])
    print(
        f"machine: {report['machine']}\nmedians of {args.repeat} repetitions ({args.warm_repeat} warm and empty runs "
        "each), lowest to highest in brackets; every flow against one running Prefect server\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
