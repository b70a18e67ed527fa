"""Throughput and memory of the graph store backends on the JODIE Wikipedia stream.

Applies the first N events in micro-batches (as the Faust worker does, with Kafka-like offsets and
event ids so the dedupe and watermark paths run) and prints events/s, peak RSS, the on-disk size, the
time to reopen a RocksDB store, and read latencies the serving path and the TGN rely on. Each backend
runs in its own subprocess so RSS figures don't mix. Figures only, no assertions.

    python bench/graph_store_bench.py --n 157474 --batch 500
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from graph_store import GraphConfig, Interaction, MemoryGraphStore, RocksGraphStore

DATA = Path("/work/shared/data/jodie-wikipedia/events.csv.gz")


def load_events(n: int) -> list[Interaction]:
    """First ``n`` rows as interactions with synthetic event ids."""
    out = []
    with gzip.open(DATA, "rt") as fh:
        for k, row in enumerate(csv.DictReader(fh)):
            if k >= n:
                break
            out.append(Interaction(row["user"], row["item"], float(row["ts"]), event_id=f"w-{k}"))
    return out


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _time_reads(store, n_calls: int = 20_000, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, store.n_users, n_calls).tolist()
    items = rng.integers(0, store.n_items, n_calls).tolist()
    out = {}
    t0 = time.perf_counter()
    for u in users:
        store.user_neighbours(u, 10)
    out["user_neighbours_k10_us"] = (time.perf_counter() - t0) / n_calls * 1e6
    t0 = time.perf_counter()
    for i in items:
        store.item_neighbours(i, 10)
    out["item_neighbours_k10_us"] = (time.perf_counter() - t0) / n_calls * 1e6
    t0 = time.perf_counter()
    for u in users[:5000]:
        store.user_item_stats(u)
    out["user_item_stats_us"] = (time.perf_counter() - t0) / 5000 * 1e6
    t0 = time.perf_counter()
    for _ in range(2000):
        store.item_popularity(1e6)
    out["item_popularity_us"] = (time.perf_counter() - t0) / 2000 * 1e6
    return out


def run_backend(backend: str, n: int, batch: int, sync: bool) -> dict:
    """Apply ``n`` events in batches of ``batch`` to one backend; returns the figures."""
    events = load_events(n)
    rss0 = psutil.Process().memory_info().rss
    config = GraphConfig()
    tmp_dir = tempfile.TemporaryDirectory(prefix="graph_bench_")
    tmp = Path(tmp_dir.name)
    store = MemoryGraphStore(config) if backend == "memory" else RocksGraphStore(tmp / "db", config, sync=sync)
    t0 = time.perf_counter()
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        store.apply(chunk, source=("interactions", 0), offsets=range(start, start + len(chunk)))
    elapsed = time.perf_counter() - t0
    fig = {
        "backend": backend,
        "events": len(events),
        "batch": batch,
        "seconds": round(elapsed, 3),
        "events_per_s": round(len(events) / elapsed),
        "counts": dataclasses.asdict(store.counts()),
    }
    fig.update({k: round(v, 2) for k, v in _time_reads(store).items()})
    fig["rss_mb_after_apply"] = round(psutil.Process().memory_info().rss / 2**20, 1)
    fig["rss_mb_delta"] = round((psutil.Process().memory_info().rss - rss0) / 2**20, 1)
    if backend == "rocks":
        t0 = time.perf_counter()
        replay = store.apply(events[:batch], source=("interactions", 0), offsets=range(batch))
        fig["replay_batch_skipped"] = sum(r is None for r in replay)
        fig["replay_batch_ms"] = round((time.perf_counter() - t0) * 1e3, 2)
        store.close()
        fig["disk_mb"] = round(_dir_size(tmp / "db") / 2**20, 1)
        t0 = time.perf_counter()
        reopened = RocksGraphStore(tmp / "db", config)
        fig["reopen_s"] = round(time.perf_counter() - t0, 3)
        fig["reopen_counts_equal"] = reopened.counts() == store.counts()
        reopened.close()
    tmp_dir.cleanup()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=157_474, help="events from the start of the file")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--backend", choices=["memory", "rocks", "both"], default="both")
    parser.add_argument("--sync", action="store_true", help="fsync every RocksDB batch")
    args = parser.parse_args()
    if args.backend != "both":
        print(json.dumps(run_backend(args.backend, args.n, args.batch, args.sync), default=str))
        return
    for backend in ("memory", "rocks"):
        cmd = [sys.executable, __file__, "--backend", backend, "--n", str(args.n), "--batch", str(args.batch)]
        if args.sync:
            cmd.append("--sync")
        fig = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        print(f"\n== {backend} ==")
        for key, value in fig.items():
            print(f"  {key:26s} {value}")


if __name__ == "__main__":
    main()
