"""Replay the JODIE Wikipedia file through the real broker and a real worker, as fast as it goes.

Prints events/s, event-to-recommendation latency (worker histogram, p50/p99), the worker's peak RSS, and the
quality an *outside client* measures from Kafka alone: for each event, the list that answered the same
user's previous event is the prediction (Recall@10, MRR@10 on the last 15% of events).

    python bench/replay_wikipedia.py [--data PATH] [--limit N] [--json OUT]
    python bench/replay_wikipedia.py --model tgn --checkpoint var/bench/models/latest.pt   # a TGN trained
        # offline on the first 70% only (streamrec train DATA --limit 133853 --val-frac 0.17647 --out ...)

No assertions: figures go to docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph_store.readers import read_events  # noqa: E402
from stream.consumer import iter_recommendations  # noqa: E402
from stream.kafka_local import LocalKafka, fetch_jars  # noqa: E402
from stream.outside_eval import outside_metrics  # noqa: E402
from stream.producer import produce_events  # noqa: E402
from stream.settings import Settings  # noqa: E402
from tests.integration.workers import Topics, WorkerProcess, metric  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jodie-wikipedia" / "events.csv.gz"


def histogram_quantile(text: str, name: str, q: float) -> float:
    """Quantile from Prometheus cumulative buckets (linear within a bucket, as PromQL does)."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if not total:
        return float("nan")
    target, prev_le, prev_c = q * total, 0.0, 0.0
    for le, c in buckets:
        if c >= target:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (target - prev_c) / max(c - prev_c, 1e-12)
        prev_le, prev_c = le, c
    return prev_le


def processing_skew(recs) -> dict[str, float]:
    """How far the worker's processing order strays from event time: for each list, in the order it was
    emitted, how much event time the worker had already seen beyond this event (``max ts so far - ts``).

    Partitions are in order each, but a worker interleaves them in fetch-sized runs, so under a backlog
    (a replay as fast as it goes) events of one partition are processed after later events of another.
    Order-sensitive state (item memory, popularity) sees that much time going backwards."""
    order = sorted(recs.values(), key=lambda r: r.emitted_at)
    ts = np.array([r.event_ts for r in order], dtype=np.float64)
    late = np.maximum.accumulate(ts) - ts
    return {"skew_p50_s": round(float(np.percentile(late, 50)), 1), "skew_p99_s": round(float(np.percentile(late, 99)), 1),
            "skew_max_s": round(float(late.max()), 1), "skew_share_late": round(float(np.mean(late > 0)), 4)}


def core_rate(events: list, batch: int = 200) -> float:
    """Reference measured in the same run: the worker's core step alone (RocksDB store, no broker, no Faust)."""
    from graph_store import open_store
    from stream.processor import EventProcessor, HeuristicScorer, RawMessage
    from stream.records import encode_event

    raw = [RawMessage("interactions", 0, n, encode_event(e)) for n, e in enumerate(events)]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "graph")
        proc = EventProcessor(store, HeuristicScorer(store))
        t0 = time.perf_counter()
        for a in range(0, len(raw), batch):
            proc.process(raw[a : a + batch])
        rate = len(raw) / (time.perf_counter() - t0)
        store.close()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--model", default="heuristic")
    ap.add_argument("--checkpoint", default=None, help="TGN checkpoint the worker serves from the start")
    args = ap.parse_args()

    events = list(read_events(args.data, limit=args.limit))
    # The file has no event ids; give each a stable one so the outside client can join lists to events.
    events = [type(e)(e.user_id, e.item_id, e.ts, e.event_type, e.weight, f"w-{n:06d}", e.attrs) for n, e in enumerate(events)]
    print(f"{len(events)} events from {args.data}")
    reference = core_rate(events) if args.model == "heuristic" else float("nan")
    print(f"reference: the core step alone runs at {reference:.0f} events/s")
    fetch_jars(quiet=True)
    tmp = Path(tempfile.mkdtemp(prefix="streamrec-bench-"))
    with LocalKafka(data_dir=tmp / "kafka") as broker:
        topics = Topics.fresh("bench")
        settings = Settings.resolve(bootstrap=broker.bootstrap, input_topic=topics.input, output_topic=topics.output, env={})
        worker = WorkerProcess(broker.bootstrap, topics, f"bench-{uuid.uuid4().hex[:6]}", tmp / "worker",
                               extra_args=["--model", args.model,
                                           *(["--checkpoint", args.checkpoint] if args.checkpoint else [])]).start()
        proc = psutil.Process(worker.proc.pid)
        peak = {"rss": 0}
        stop = threading.Event()

        def sample_rss() -> None:
            while not stop.is_set():
                try:
                    peak["rss"] = max(peak["rss"], proc.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.2)

        threading.Thread(target=sample_rss, daemon=True).start()
        t0 = time.monotonic()
        stats = produce_events(events, settings, rate=None, progress=True, total=len(events))
        t_produced = time.monotonic() - t0
        recs = {}
        with tqdm(total=len(events), unit="rec", desc="recommendations", file=sys.stderr, mininterval=0.5) as bar:
            for rec in iter_recommendations(settings, from_beginning=True, timeout_s=300.0):
                if rec.event_id not in recs:
                    recs[rec.event_id] = rec
                    bar.update()
                if len(recs) >= len(events):
                    break
        elapsed = time.monotonic() - t0
        text = worker.metrics()
        stop.set()
        worker.stop()

    quality = outside_metrics(events, recs, k=10, test_frac=0.15)
    result = {
        "events": len(events),
        "recommendations": len(recs),
        "produce_seconds": round(t_produced, 2),
        "end_to_end_seconds": round(elapsed, 2),
        "events_per_second": round(len(events) / elapsed, 1),
        "core_events_per_second": round(reference, 1),
        "end_to_end_vs_core": round(len(events) / elapsed / reference, 3),
        "latency_p50_s": round(histogram_quantile(text, "streamrec_event_to_recommendation_seconds", 0.5), 4),
        "latency_p99_s": round(histogram_quantile(text, "streamrec_event_to_recommendation_seconds", 0.99), 4),
        "worker_peak_rss_mib": round(peak["rss"] / 2**20, 1),
        "rejected": metric(text, "streamrec_events_rejected_total"),
        **quality,
        **processing_skew(recs),
        "model": args.model,
        "checkpoint": args.checkpoint,
    }
    for k, v in result.items():
        print(f"{k:>28}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
