"""Evaluation plots (matplotlib, Agg): MRR and Recall@10 per test window over time, and the headline bars."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HEADLINE = {"mrr": "MRR", "recall@10": "Recall@10", "ndcg@10": "NDCG@10"}


def plot_report(report: dict[str, Any], path: str | Path, *, title: str | None = None) -> Path:
    """Write a PNG of ``report`` (from :func:`models.evaluation.report.build_report`) to ``path``.

    Top row: MRR and Recall@10 of each window of the test span against time (days since the first
    event of the stream); bottom: the headline test metrics per model, with MRR on repeat and new pairs.
    """
    models = report["models"]
    t0 = report["data"].get("ts_min") or 0.0
    fig = plt.figure(figsize=(13, 8.5), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1])
    for col, (metric, label) in enumerate((("mrr", "MRR"), ("recall@10", "Recall@10"))):
        ax = fig.add_subplot(grid[0, col])
        for name, m in models.items():
            wins = m["test"]["windows"]
            if not wins:
                continue
            mid = [((w["t_start"] + w["t_stop"]) / 2 - t0) / 86400.0 for w in wins]
            ax.plot(mid, [w[metric] for w in wins], marker="o", ms=3, label=name)
        ax.set_xlabel("time (days since first event)")
        ax.set_ylabel(label)
        ax.set_title(f"{label} per window of the test span")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        if col == 0:
            handles, labels = ax.get_legend_handles_labels()
            fig.legend(handles, labels, fontsize=8, loc="outside right upper", title="model")
    ax = fig.add_subplot(grid[1, :])
    names = list(models)
    bars = [(label, lambda m, k=k: m["test"]["overall"][k]) for k, label in HEADLINE.items()]
    bars += [("MRR repeat", lambda m: m["test"]["repeat"]["mrr"]), ("MRR new", lambda m: m["test"]["new"]["mrr"])]
    x = np.arange(len(names))
    width = 0.8 / len(bars)
    for j, (label, get) in enumerate(bars):
        vals = [get(models[n]) or 0.0 for n in names]
        rects = ax.bar(x + (j - (len(bars) - 1) / 2) * width, vals, width, label=label)
        ax.bar_label(rects, fmt="%.3f", fontsize=6, rotation=90, padding=2)
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("test span")
    ax.set_title("Headline metrics (test span)")
    ax.legend(fontsize=8, ncols=len(bars), loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    data = report["data"]
    name = "/".join(Path(data.get("path") or "stream").parts[-2:])
    fig.suptitle(title or f"prequential evaluation: {name} "
                 f"({data['n_events']:,} events, {data['n_users']:,} users, {data['n_items']:,} items)")
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
