"""``streamrec evaluate``: the prequential evaluation of the baselines (and the TGN) on an interaction file.

Reads the file with the shared reader, applies the protocol of ARCHITECTURE.md ("Evaluation protocol"),
chooses hyperparameters on the validation span, prints the test table, and optionally writes the JSON
report and the PNG plot.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from tqdm import tqdm

from graph_store.readers import DataFormatError, read_events
from models.evaluation.metrics import RECALL_KS
from models.evaluation.protocol import encode, split_by_count
from models.evaluation.report import build_report, print_report, write_json
from models.evaluation.selection import Candidate, evaluate_model
from models.registry import available_models, model_class
from stream.commands._options import column_mapping_options, mapping_from_kwargs

DEFAULT_MODELS = "pop,recency_pop,edgebank,cooccur,river_mf"


@click.command("evaluate")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--models", "model_names", default=DEFAULT_MODELS, show_default=True,
              help=f"Comma-separated models ({', '.join(available_models())}).")
@click.option("--test-frac", default=0.15, show_default=True, type=click.FloatRange(0, 1, max_open=True),
              help="Share of events (the last ones) in the test span.")
@click.option("--val-frac", default=0.15, show_default=True, type=click.FloatRange(0, 1, max_open=True),
              help="Share of events before the test span used to choose hyperparameters.")
@click.option("--k", "k", default=10, show_default=True, type=click.IntRange(1),
              help="Also report Recall@k (Recall@1/10/20 and NDCG@10 are always reported).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every metric, the configuration and the chosen hyperparameters here.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a PNG: metrics per test window over time, and the headline metrics.")
@click.option("--windows", "n_windows", default=10, show_default=True, type=click.IntRange(1),
              help="Number of equal-count windows of the test span for metrics over time.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Read only the first N rows of the file.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="File format (default: from the file name).")
@click.option("--batch-size", default=1, show_default=True, type=click.IntRange(1),
              help="Score this many events per model state (1 = exact per-event protocol).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for models that take one.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar [default: when stderr is a terminal].")
@column_mapping_options
def evaluate(
    data: Path,
    model_names: str,
    test_frac: float,
    val_frac: float,
    k: int,
    json_path: Path | None,
    plot_path: Path | None,
    n_windows: int,
    limit: int | None,
    fmt: str | None,
    batch_size: int,
    seed: int,
    progress: bool | None,
    **kwargs: Any,
) -> None:
    """Prequential (test-then-learn) evaluation of MODELS on the interaction file DATA."""
    mapping = mapping_from_kwargs(kwargs)
    names = [n.strip() for n in model_names.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("no model given", param_hint="--models")
    if val_frac + test_frac >= 1:
        raise click.BadParameter("val-frac + test-frac must be < 1", param_hint="--val-frac/--test-frac")
    grids = {}
    for name in names:
        try:
            grids[name] = model_class(name).param_grid()
        except KeyError as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="--models") from exc
    console = _console(stderr=True)
    t0 = time.perf_counter()
    try:
        stream = encode(read_events(data, mapping, fmt=fmt, limit=limit))
    except DataFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    if len(stream) == 0:
        raise click.ClickException(f"no events in {data}")
    split = split_by_count(len(stream), val_frac, test_frac)
    console.print(
        f"{data}: {len(stream):,} events, {stream.n_users:,} users, {stream.n_items:,} items "
        f"(read in {time.perf_counter() - t0:.1f} s); train {split.train_end:,}, "
        f"val {split.val_end - split.train_end:,}, test {split.n_events - split.val_end:,} events"
    )
    ks = tuple(sorted(set(RECALL_KS) | {k}))
    total = sum(len(grids[n]) * split.val_end for n in names) + len(names) * (split.n_events - split.val_end)
    runs = []
    show = console.is_terminal if progress is None else progress
    with tqdm(total=total, unit="ev", unit_scale=True, disable=not show, dynamic_ncols=True, file=sys.stderr) as bar:
        for name in names:
            bar.set_description(name)

            def note(c: Candidate, name: str = name) -> None:
                bar.write(f"  {name} {c.params}: val MRR {c.val.mrr:.4f} ({c.seconds:.1f} s)", file=sys.stderr)

            runs.append(evaluate_model(name, stream, split, grid=grids[name], seed=seed, batch_size=batch_size,
                                       progress=bar.update, on_candidate=note if len(grids[name]) > 1 else None))
    config = {
        "models": names,
        "val_frac": val_frac,
        "test_frac": test_frac,
        "k": k,
        "windows": n_windows,
        "limit": limit,
        "format": fmt,
        "batch_size": batch_size,
        "seed": seed,
        "mapping": {f: getattr(mapping, f) for f in ("user", "item", "ts", "event_type", "weight", "event_id")},
    }
    report = build_report(runs, stream, split, data_path=data, config=config, n_windows=n_windows, ks=ks)
    print_report(report, _console(stderr=False), ks)
    if json_path is not None:
        write_json(report, json_path)
        console.print(f"wrote {json_path}")
    if plot_path is not None:
        from models.evaluation.plots import plot_report  # matplotlib only when asked for

        plot_report(report, plot_path)
        console.print(f"wrote {plot_path}")


def _console(stderr: bool) -> Console:
    """A rich console; wide when writing to a file or pipe, so the table is not squeezed to 80 columns."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=160)
