"""Choose each model's hyperparameters on the validation span, then score the test span.

For every candidate in the model's ``param_grid()``, a fresh model learns the train span (unscored) and
is scored prequentially over the validation span; the candidate with the best validation MRR wins (ties:
the first in grid order; an empty validation span picks the first candidate). The winner's run then simply
continues, test-then-learn, through the test span, so test figures come from a model whose state holds
every train and validation event. Models are deterministic given their seed, so this equals a rerun from
scratch with the chosen parameters (a unit test checks that). The test span is never seen by the choice.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from models.base import Recommender
from models.evaluation.metrics import RankingMetrics, ranking_metrics
from models.evaluation.protocol import EventStream, PrequentialResult, Progress, Split, prequential, warm_up
from models.registry import accepts, make_recommender, model_class

Factory = Callable[..., Recommender]


@dataclass(frozen=True)
class Candidate:
    """One hyperparameter setting and how it did on the validation span."""

    params: dict[str, Any]
    val: RankingMetrics
    seconds: float  # train warm-up + validation scoring


@dataclass(frozen=True)
class ModelRun:
    """The chosen setting of one model, its validation and test results, and the time it took."""

    name: str
    params: dict[str, Any]
    candidates: list[Candidate]
    val: PrequentialResult
    test: PrequentialResult
    seconds_total: float  # every candidate plus the test span
    seconds_run: float  # one full pass with the chosen params: train + val + test
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate_model(
    name: str,
    stream: EventStream,
    split: Split,
    *,
    grid: list[dict[str, Any]] | None = None,
    fixed: dict[str, Any] | None = None,
    seed: int | None = 0,
    factory: Factory = make_recommender,
    batch_size: int = 1,
    progress: Progress | None = None,
    on_candidate: Callable[[Candidate], None] | None = None,
) -> ModelRun:
    """Select ``name``'s hyperparameters on ``split``'s validation span and score its test span.

    ``grid`` defaults to the model class's ``param_grid()``; ``fixed`` is added to every candidate, as is
    ``seed`` when the class takes one. ``progress`` is called with event counts as they are processed
    (``len(grid) * split.val_end + test events`` in all).
    """
    cls = model_class(name) if factory is make_recommender else None
    grid = list(grid if grid is not None else (cls.param_grid() if cls is not None else [{}])) or [{}]
    base = dict(fixed or {})
    if seed is not None and cls is not None and accepts(cls, "seed"):
        base.setdefault("seed", seed)
    train_end, val_end, n = split.train_end, split.val_end, split.n_events

    best: tuple[Recommender, PrequentialResult, Candidate] | None = None
    candidates: list[Candidate] = []
    started = time.perf_counter()
    for params in grid:
        t0 = time.perf_counter()
        model = factory(name, **{**params, **base})
        warm_up(model, stream, 0, train_end, progress=progress)
        val = prequential(model, stream, train_end, val_end, batch_size=batch_size, progress=progress)
        cand = Candidate(dict(params), ranking_metrics(val.ranks), time.perf_counter() - t0)
        candidates.append(cand)
        if on_candidate is not None:
            on_candidate(cand)
        if best is None or _better(cand.val.mrr, best[2].val.mrr):
            best = (model, val, cand)
        del model
    assert best is not None
    model, val, chosen = best
    t0 = time.perf_counter()
    test = prequential(model, stream, val_end, n, batch_size=batch_size, progress=progress)
    seconds_test = time.perf_counter() - t0
    return ModelRun(
        name=name,
        params={**chosen.params, **base},
        candidates=candidates,
        val=val,
        test=test,
        seconds_total=time.perf_counter() - started,
        seconds_run=chosen.seconds + seconds_test,
    )


def _better(mrr: float, best_mrr: float) -> bool:
    """Strictly better validation MRR (NaN never wins, so an empty validation span keeps the first)."""
    return not math.isnan(mrr) and (math.isnan(best_mrr) or mrr > best_mrr)
