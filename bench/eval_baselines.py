"""Seconds per baseline for one prequential pass over a file (train learned, val + test scored).

Usage: python bench/eval_baselines.py [DATA] [--json REPORT.json]
With a report from ``streamrec evaluate --json``, each baseline runs with the hyperparameters chosen there;
otherwise with its defaults. Prints learn and score+learn throughput; nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from graph_store.readers import read_events
from models.baselines import BASELINES
from models.evaluation.protocol import encode, prequential, split_by_count, warm_up
from models.registry import make_recommender

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jodie-wikipedia" / "events.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--json", dest="report", default=None, help="take each model's chosen params from here")
    parser.add_argument("--models", default=",".join(BASELINES))
    args = parser.parse_args()
    chosen = {}
    if args.report:
        chosen = {name: m["params"] for name, m in json.loads(Path(args.report).read_text())["models"].items()}
    t0 = time.perf_counter()
    stream = encode(read_events(args.data))
    split = split_by_count(len(stream))
    print(f"read {len(stream):,} events in {time.perf_counter() - t0:.1f} s")
    print(f"{'model':<12} {'params':<40} {'learn s':>8} {'score s':>8} {'total s':>8} {'us/scored ev':>13}")
    for name in args.models.split(","):
        params = {k: (math.inf if v == "inf" else v) for k, v in chosen.get(name, {}).items()}
        model = make_recommender(name, **params)
        t0 = time.perf_counter()
        warm_up(model, stream, 0, split.train_end)
        t1 = time.perf_counter()
        prequential(model, stream, split.train_end)
        t2 = time.perf_counter()
        n_scored = len(stream) - split.train_end
        print(f"{name:<12} {str(params):<40} {t1 - t0:8.1f} {t2 - t1:8.1f} {t2 - t0:8.1f} "
              f"{1e6 * (t2 - t1) / n_scored:13.1f}")


if __name__ == "__main__":
    main()
