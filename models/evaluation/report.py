"""The evaluation report: one JSON-ready dict with every figure, and its rich table for the terminal."""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

from models.evaluation.metrics import RECALL_KS
from models.evaluation.protocol import EventStream, Split
from models.evaluation.selection import ModelRun

PROTOCOL = (
    "prequential test-then-learn over the stable time-sorted stream; each event ranked by the model's "
    "scores computed before learning it, among all items seen in earlier events; a never-seen item ranks "
    "after every known item; ties count as the expected rank 1 + #higher + #equal/2; Recall@k counts "
    "rank <= k and NDCG@10 is 1/log2(1 + rank) for rank <= 10, both on that expected rank; split by event "
    "count train/val/test; hyperparameters chosen by validation MRR; test state includes train+val events"
)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (as stored, e.g. still gzip-compressed)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def build_report(
    runs: Sequence[ModelRun],
    stream: EventStream,
    split: Split,
    *,
    data_path: str | Path | None,
    config: dict[str, Any],
    n_windows: int = 10,
    ks: Sequence[int] = RECALL_KS,
) -> dict[str, Any]:
    """Everything about an evaluation as plain JSON-ready data (``inf`` written as ``"inf"``)."""
    repeat = stream.repeat_flags()
    a, b = split.val_end, split.n_events
    data: dict[str, Any] = {
        "path": str(data_path) if data_path is not None else None,
        "sha256": sha256_file(data_path) if data_path is not None else None,
        "n_events": len(stream),
        "n_users": stream.n_users,
        "n_items": stream.n_items,
        "ts_min": float(stream.ts[0]) if len(stream) else None,
        "ts_max": float(stream.ts[-1]) if len(stream) else None,
    }
    report = {
        "protocol": PROTOCOL,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "streamrec_version": _version(),
        "config": config,
        "data": data,
        "split": {
            **{k: list(v) for k, v in split.spans.items()},
            "test_repeat_share": float(repeat[a:b].mean()) if b > a else None,
        },
        "models": {
            run.name: {
                "params": run.params,
                "selection": [
                    {"params": c.params, "val": c.val.as_dict(), "seconds": c.seconds} for c in run.candidates
                ],
                "val": run.val.summary(n_windows, ks),
                "test": run.test.summary(n_windows, ks),
                "seconds": {"total": run.seconds_total, "run": run.seconds_run},
                **run.extra,
            }
            for run in runs
        },
    }
    return jsonable(report)


def jsonable(obj: Any) -> Any:
    """``obj`` with infinities as ``"inf"``/``"-inf"`` and NaN as ``None`` (strict JSON), recursively.

    >>> jsonable({"tau": float("inf"), "x": [float("nan"), 1]})
    {'tau': 'inf', 'x': [None, 1]}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return jsonable(obj.item())
    return obj


def write_json(report: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def results_table(report: dict[str, Any], ks: Sequence[int] = RECALL_KS) -> Table:
    """Rows: models; columns: test metrics overall, MRR on repeat and new pairs, chosen params, seconds."""
    split = report["split"]
    share = split.get("test_repeat_share")
    title = f"Test span: events {split['test'][0]:,}..{split['test'][1]:,}"
    if share is not None:
        title += f" ({share:.1%} repeat pairs)"
    table = Table(title=title, title_justify="left")
    table.add_column("model", style="bold")
    table.add_column("MRR", justify="right")
    for k in ks:
        table.add_column(f"R@{k}", justify="right")
    table.add_column("NDCG@10", justify="right")
    table.add_column("MRR rep", justify="right")
    table.add_column("MRR new", justify="right")
    table.add_column("params")
    table.add_column("s", justify="right")
    for name, m in report["models"].items():
        o, r, n = m["test"]["overall"], m["test"]["repeat"], m["test"]["new"]
        shown = {k: v for k, v in m["params"].items() if k != "seed"}
        table.add_row(
            name,
            _f(o["mrr"]),
            *(_f(o.get(f"recall@{k}")) for k in ks),
            _f(o["ndcg@10"]),
            _f(r["mrr"]),
            _f(n["mrr"]),
            ", ".join(f"{k}={v}" for k, v in shown.items()) or "-",
            f"{m['seconds']['total']:.1f}",
        )
    return table


def print_report(report: dict[str, Any], console: Console | None = None, ks: Sequence[int] = RECALL_KS) -> None:
    (console or Console()).print(results_table(report, ks))


def _f(x: Any) -> str:
    return "-" if x is None else f"{x:.4f}"


def _version() -> str | None:
    try:
        return metadata.version("streamrec")
    except metadata.PackageNotFoundError:
        return None
