"""Benchmark: the TGN on JODIE Wikipedia under the shared prequential protocol (ARCHITECTURE.md).

Trains on the first 70% of events (the lazy fit at the first score), then scores the validation and test
spans test-then-learn, one event at a time, with memory updates every ``--memory-batch-size`` events and
(optionally) the periodic fine-tunes a serving trainer would run on the same timeline. Prints MRR,
Recall@1/10/20 and NDCG@10, overall and split into repeat / new pairs, beside ``recency_pop``, and the
seconds per training epoch and per fine-tune.

    python bench/tgn_wikipedia.py --epochs 3 --finetune-every 10000 --json runs/tgn_wikipedia.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from graph_store.readers import read_events
from models.baselines import RecencyPop
from models.evaluation.metrics import ranking_metrics
from models.evaluation.protocol import (NEXT_KIND_NAMES, PrequentialResult, encode, prequential, split_by_count,
                                       warm_up)
from models.tgn import TGNRecommender

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jodie-wikipedia" / "events.csv.gz"


def summary(r: PrequentialResult, kinds: np.ndarray) -> dict:
    """Metrics overall, for repeat / new pairs and by what the user did next (``EventStream.next_kinds``)."""
    out = {"all": ranking_metrics(r.ranks).as_dict()}
    out["repeat"] = ranking_metrics(r.select(r.repeat).ranks).as_dict()
    out["new"] = ranking_metrics(r.select(~r.repeat).ranks).as_dict()
    out["by_next_kind"] = {name: ranking_metrics(r.select(kinds == code).ranks).as_dict()
                           for code, name in enumerate(NEXT_KIND_NAMES)}
    return out


def line(name: str, s: dict) -> str:
    a = s["all"]
    return (f"{name:<12} MRR {a['mrr']:.4f}  R@1 {a['recall@1']:.4f}  R@10 {a['recall@10']:.4f}  "
            f"R@20 {a['recall@20']:.4f}  NDCG@10 {a['ndcg@10']:.4f}  | repeat {s['repeat']['mrr']:.4f} "
            f"(n={s['repeat']['n']})  new {s['new']['mrr']:.4f} (n={s['new']['n']})\n{'':<12} by next step: "
            + "  ".join(f"{k} {v['mrr']:.4f} ({v['n']})" for k, v in s["by_next_kind"].items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--memory-batch-size", type=int, default=1)
    ap.add_argument("--finetune-every", type=int, default=0, help="0 = no fine-tuning")
    ap.add_argument("--finetune-window", type=int, default=20_000)
    ap.add_argument("--no-embedding", action="store_true", help="ablation: drop the <z_u, z_i> term")
    ap.add_argument("--skip-test", action="store_true", help="validation span only")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core box)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    stream = encode(read_events(args.data))
    split = split_by_count(len(stream))
    spans = {"val": (split.train_end, split.val_end), "test": (split.val_end, len(stream))}
    kinds = stream.next_kinds()
    report: dict = {"args": vars(args), "n_events": len(stream)}

    base = RecencyPop()
    warm_up(base, stream, 0, split.train_end)
    for name, (a, b) in spans.items():
        report[f"recency_pop_{name}"] = summary(prequential(base, stream, a, b), kinds[a:b])

    rec = TGNRecommender(epochs=args.epochs, lr=args.lr, memory_batch_size=args.memory_batch_size,
                         finetune_every=args.finetune_every or None, finetune_window=args.finetune_window,
                         use_embedding=not args.no_embedding, seed=args.seed, progress=True)
    warm_up(rec, stream, 0, split.train_end)
    fit = rec.fit()
    report["train"] = {"losses": fit.losses, "seconds_per_epoch": fit.seconds}
    print(f"training: {np.mean(fit.seconds):.1f} s per epoch, losses {[round(x, 4) for x in fit.losses]}")
    for name, (a, b) in spans.items():
        if name == "test" and args.skip_test:
            break
        t0 = time.perf_counter()
        n_ft = len(rec.finetunes)
        res = prequential(rec, stream, a, b)
        s = summary(res, kinds[a:b])
        fts = rec.finetunes[n_ft:]
        report[f"tgn_{name}"] = s
        report[f"tgn_{name}_seconds"] = time.perf_counter() - t0
        report[f"finetunes_{name}"] = [
            {"published": f.published, "val_mrr_old": f.val_mrr_old, "val_mrr_new": f.val_mrr_new,
             "train_loss": f.train_loss, "duration_s": f.duration_s} for f in fts]
        print(line("recency_pop", report[f"recency_pop_{name}"]) + f"   [{name}]")
        print(line("tgn", s) + f"   [{name}, {report[f'tgn_{name}_seconds']:.0f} s, {len(fts)} fine-tunes, "
              f"{sum(f.published for f in fts)} published, "
              f"{np.mean([f.duration_s for f in fts]) if fts else 0:.0f} s each]")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
