"""Benchmark: the TGN on a catalogue far above ``max_candidates`` -- retrieve-then-rank against full ranking.

Generates an e-commerce stream with many items (``streamrec generate``'s model), trains one TGN on the first
85% of events (train and validation spans; its training samples candidates, :func:`models.tgn.training.sampled_pool`), then scores the same
test-span events test-then-learn twice from copies of that state: once ranking retrieved candidates only (the
default above ``max_candidates`` items) and once ranking every item with the model (``max_candidates`` set
above the catalogue). Prints MRR / Recall@10 of both beside ``recency_pop`` and the seconds per scored event
of both (a ratio measured in the same run), and how long a 200-user serving batch takes each way.

    python bench/tgn_large_catalogue.py [--events 40000] [--items 20000] [--test-events 1500] [--json OUT]

No assertions: figures go to docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch

from models.baselines import RecencyPop
from models.evaluation.metrics import ranking_metrics
from models.evaluation.protocol import encode, prequential, split_by_count, warm_up
from models.synthetic import generate
from models.tgn import TGNRecommender


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--users", type=int, default=1_000)
    ap.add_argument("--test-events", type=int, default=1_500, help="scored events (from the test span's start)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    stream = encode(generate("ecommerce", args.events, seed=args.seed, n_users=args.users, n_items=args.items))
    split = split_by_count(len(stream))
    a = split.val_end
    b = min(len(stream), a + args.test_events)
    print(f"{len(stream)} events, {stream.n_users} users, {stream.n_items} items; scoring events {a}..{b}")
    report: dict = {"args": vars(args), "n_items": stream.n_items}

    base = RecencyPop()
    warm_up(base, stream, 0, a)
    report["recency_pop"] = ranking_metrics(prequential(base, stream, a, b).ranks).as_dict()

    rec = TGNRecommender(epochs=args.epochs, seed=args.seed, progress=True)
    warm_up(rec, stream, 0, split.val_end)
    t0 = time.perf_counter()
    fit = rec.fit()
    report["train_seconds_per_epoch"] = fit.seconds
    print(f"training: {np.mean(fit.seconds):.1f} s per epoch on {split.val_end} events "
          f"({time.perf_counter() - t0:.0f} s with the state replay)")

    for mode, max_candidates in (("retrieved", rec.max_candidates), ("all items", 10**9)):
        model = copy.deepcopy(rec)
        model.max_candidates = max_candidates
        n_known = model.store.n_items
        users = [int(u) for u in stream.users[a : a + 200]]
        t0 = time.perf_counter()
        model.score_many(users, [float(stream.ts[a])] * len(users), n_known)
        batch_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = prequential(model, stream, a, b)
        per_event = (time.perf_counter() - t0) / (b - a)
        report[mode] = {**ranking_metrics(res.ranks).as_dict(), "seconds_per_event": per_event,
                        "serving_batch_200_s": batch_s}
    r, f, p = report["retrieved"], report["all items"], report["recency_pop"]
    print(f"recency_pop          MRR {p['mrr']:.4f}  R@10 {p['recall@10']:.4f}")
    for name, m in (("tgn, retrieved", r), ("tgn, all items", f)):
        print(f"{name:<20} MRR {m['mrr']:.4f}  R@10 {m['recall@10']:.4f}  {1000 * m['seconds_per_event']:.1f} ms/event"
              f"  200-user batch {m['serving_batch_200_s']:.2f} s")
    print(f"retrieved / all items: time per event {r['seconds_per_event'] / f['seconds_per_event']:.3f}, "
          f"MRR {r['mrr'] / f['mrr']:.3f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
