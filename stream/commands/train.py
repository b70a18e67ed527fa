"""``streamrec train``: train the TGN on a historical interaction file and write a versioned checkpoint.

The model trains on the first ``1 - val_frac`` of the events, then goes test-then-learn through the rest
(the validation figures in the checkpoint's metrics), so the saved memory and popularity state hold every
event of the file. With ``--store`` the same events are loaded into a RocksDB graph store (which must be
empty), so a worker can serve the checkpoint on top of that store straight away.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import click

from graph_store.readers import DataFormatError, read_events
from stream.commands._options import column_mapping_options, mapping_from_kwargs


def numeric_attr_names(events: list, sample: int = 10_000, min_share: float = 0.5) -> tuple[str, ...]:
    """Attribute names with a number in at least ``min_share`` of the first ``sample`` events.

    >>> from graph_store.events import Interaction
    >>> numeric_attr_names([Interaction("u", "i", 0.0, attrs={"price": 9.5, "category": "shoes"})])
    ('price',)
    """
    head = events[:sample]
    counts: dict[str, int] = {}
    for ev in head:
        for key, value in ev.attrs.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                counts[key] = counts.get(key, 0) + 1
    return tuple(sorted(k for k, c in counts.items() if c >= min_share * max(len(head), 1)))


@click.command("train")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", default="var/streamrec/models", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Directory for <version>.pt and latest.pt.")
@click.option("--epochs", default=3, show_default=True, type=click.IntRange(0), help="Training epochs.")
@click.option("--store", "store_path", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Also load the events into a (new, empty) RocksDB graph store here.")
@click.option("--val-frac", default=0.15, show_default=True, type=click.FloatRange(0, 1, max_open=True),
              help="Newest share of events scored test-then-learn after training (validation metrics).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Read only the first N rows of the file.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="File format (default: from the file name).")
@click.option("--attrs", default="auto", show_default=True,
              help="Numeric event attributes used as features: comma-separated names, 'auto' or 'none'.")
@click.option("--lr", default=3e-3, show_default=True, type=float, help="Adam learning rate.")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1), help="Events per step.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed (same seed, same model).")
@click.option("--device", default="auto", show_default=True, help="auto (a GPU when present), cpu or cuda.")
@click.option("--threads", default=None, type=click.IntRange(1),
              help="torch CPU threads [default: half the machine's cores, at least 1: on a 2-core machine one "
                   "thread trained Wikipedia faster than two].")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show progress bars.")
@column_mapping_options
def train(
    data: Path, out_dir: Path, epochs: int, store_path: Path | None, val_frac: float, limit: int | None,
    fmt: str | None, attrs: str, lr: float, batch_size: int, seed: int, device: str, threads: int | None,
    progress: bool, **kwargs: Any,
) -> None:
    """Train the TGN on the interaction file DATA and write a versioned checkpoint."""
    import numpy as np
    import torch

    from models.evaluation.metrics import ranking_metrics
    from models.tgn.checkpoint import save_checkpoint
    from models.tgn.recommender import TGNRecommender
    from models.tgn.training import score_then_learn, train as train_model

    torch.set_num_threads(threads or max(1, (os.cpu_count() or 2) // 2))
    mapping = mapping_from_kwargs(kwargs)
    try:
        events = sorted(read_events(data, mapping, fmt=fmt, limit=limit), key=lambda ev: ev.ts)  # stable
    except DataFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    if len(events) < 2:
        raise click.ClickException(f"{data}: need at least 2 events, got {len(events)}")
    names = () if attrs == "none" else numeric_attr_names(events) if attrs == "auto" else \
        tuple(a.strip() for a in attrs.split(",") if a.strip())
    n_fit = max(1, int(round(len(events) * (1 - val_frac))))
    click.echo(f"{len(events)} events; training on {n_fit}, validating on {len(events) - n_fit}; "
               f"attributes: {', '.join(names) or 'none'}", err=True)

    rec = TGNRecommender(numeric_attrs=names, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                         device=device, progress=progress)
    result = train_model(rec, events[:n_fit], epochs=epochs, progress=progress)
    metrics: dict[str, Any] = {
        "train_loss": result.losses[-1] if result.losses else None,
        "train_losses": result.losses,
        "seconds_per_epoch": result.seconds,
    }
    if n_fit < len(events):  # the rest test-then-learn: validation figures, and the state catches up
        t0 = time.perf_counter()
        seen = {(ev.user_id, ev.item_id) for ev in events[:n_fit]}
        repeat = np.zeros(len(events) - n_fit, dtype=bool)
        for k, ev in enumerate(events[n_fit:]):
            repeat[k] = (ev.user_id, ev.item_id) in seen
            seen.add((ev.user_id, ev.item_id))
        ranks = score_then_learn(rec, events[n_fit:], progress=progress)
        m = ranking_metrics(ranks).as_dict()
        metrics.update({f"val_{k}": v for k, v in m.items()})
        metrics["val_mrr_repeat"] = ranking_metrics(ranks[repeat]).mrr
        metrics["val_mrr_new"] = ranking_metrics(ranks[~repeat]).mrr
        metrics["val_seconds"] = time.perf_counter() - t0
        click.echo(f"validation: MRR {m['mrr']:.4f}  Recall@10 {m['recall@10']:.4f}  "
                   f"(repeat {metrics['val_mrr_repeat']:.4f}, new {metrics['val_mrr_new']:.4f})", err=True)
    window = {"source": str(data), "n_events": len(events), "n_train": n_fit,
              "first_ts": float(events[0].ts), "last_ts": float(events[-1].ts)}
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = rec.checkpoint(metrics={k: v for k, v in metrics.items() if not _is_nan(v)}, window=window)
    path = save_checkpoint(out_dir / f"{ckpt.version}.pt", ckpt)
    save_checkpoint(out_dir / "latest.pt", ckpt)
    click.echo(f"wrote {path} (version {ckpt.version}); {np.mean(result.seconds or [0]):.1f} s per epoch", err=True)

    if store_path is not None:
        _load_store(store_path, events, rec)
    click.echo(str(path))


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _load_store(path: Path, events: list, rec: Any) -> None:
    """Apply ``events`` to a new RocksDB store at ``path``; its ids must match the trained state's."""
    from graph_store import RocksGraphStore

    store = RocksGraphStore(path, rec.store.config)
    try:
        if store.counts().events:
            raise click.ClickException(f"{path} already holds {store.counts().events} events; use an empty directory")
        for a in range(0, len(events), 10_000):
            store.apply(events[a : a + 10_000])
        store.flush()
        if (store.n_users, store.n_items) != (rec.store.n_users, rec.store.n_items):
            raise click.ClickException("the store's ids do not match the trained state (duplicate event ids?)")
        click.echo(f"loaded {len(events)} events into {path}", err=True)
    finally:
        store.close()
