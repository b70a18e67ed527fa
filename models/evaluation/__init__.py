"""The prequential evaluation harness: protocol, metrics, validation-span selection, reports and plots.

>>> from models.baselines import RecencyPop
>>> stream = encode_arrays([0, 0, 0], ["a", "b", "a"], [0.0, 1.0, 2.0])
>>> model = RecencyPop()
>>> warm_up(model, stream, 0, 2)                 # learn the first two events unscored
>>> prequential(model, stream, start=2).ranks.tolist()   # 'b' was used last, so 'a' ranks 2nd
[2.0]
"""
from models.evaluation.metrics import RankingMetrics, rank_counts, rank_of, ranking_metrics, summarize
from models.evaluation.protocol import (
    EventStream,
    PrequentialResult,
    ServedClock,
    Split,
    encode,
    encode_arrays,
    prequential,
    split_by_count,
    warm_up,
)
from models.evaluation.selection import Candidate, ModelRun, evaluate_model

__all__ = [
    "Candidate",
    "EventStream",
    "ModelRun",
    "PrequentialResult",
    "RankingMetrics",
    "ServedClock",
    "Split",
    "encode",
    "encode_arrays",
    "evaluate_model",
    "prequential",
    "rank_counts",
    "rank_of",
    "ranking_metrics",
    "split_by_count",
    "summarize",
    "warm_up",
]
