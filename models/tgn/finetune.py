"""Periodic fine-tuning on the recent window, with a guardrail: publish only what validates no worse.

:func:`finetune` is pure with respect to the serving model: it never touches ``current``'s weights or
state. It replays the window (``recent_events``, chronological) into fresh copies:

* the candidate copies ``current``'s weights, builds state on the oldest ``warmup_frac`` of the
  training part, and trains ``passes`` passes on the rest (memory weights frozen, so the live memory,
  which a hot swap keeps, stays consistent with them);
* both candidate and current are then scored test-then-learn on the newest ``val_frac`` slice, each
  from its own replay of the training part;
* the candidate is published only if its validation MRR is finite and not below the current one's --
  and, with ``against_heuristic`` (no TGN has been published yet, so the workers serve the heuristic),
  not below the serving heuristic's on the same slice either (:func:`heuristic_mrr`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from graph_store.events import Interaction
from models.tgn.checkpoint import new_version
from models.tgn.training import as_interactions, score_then_learn, train

if TYPE_CHECKING:
    from models.tgn.recommender import TGNRecommender


@dataclass(frozen=True)
class FinetuneResult:
    """The candidate's weights and how it compared with the current model on the newest slice."""

    model: dict[str, torch.Tensor]  # candidate weights (TGNModel.weights())
    version: str
    train_loss: float
    val_mrr_new: float
    val_mrr_old: float
    published: bool
    duration_s: float
    n_train: int = 0
    n_val: int = 0
    val_mrr_heuristic: float = float("nan")  # the serving heuristic on the same slice (when compared)


def validation_mrr(rec: TGNRecommender, events: Sequence[Interaction], score_batch: int = 50) -> float:
    """Test-then-learn MRR of ``rec`` over ``events`` (its own store), scoring ``score_batch`` events at once
    from the state before them (the same slightly stale protocol for every model compared)."""
    ranks = score_then_learn(rec, events, score_batch=score_batch)
    return float(np.mean(1.0 / ranks)) if len(ranks) else float("nan")


def heuristic_mrr(fit_events: Sequence[Interaction], val_events: Sequence[Interaction], score_batch: int = 50) -> float:
    """Test-then-learn MRR of the serving heuristic (:class:`models.heuristic.GraphHeuristic`, what a worker
    answers with before its first TGN) over ``val_events`` after ``fit_events``, on a graph of its own, with
    the same ``score_batch`` protocol as :func:`validation_mrr`."""
    from graph_store.memory import MemoryGraphStore
    from models.heuristic import GraphHeuristic
    from models.tgn.training import ranks_then_learn

    store = MemoryGraphStore()
    store.apply(list(fit_events))
    ranks = ranks_then_learn(store, GraphHeuristic(store).score_many, store.apply, list(val_events),
                             score_batch=score_batch)
    return float(np.mean(1.0 / ranks)) if len(ranks) else float("nan")


def finetune(
    current: TGNRecommender,
    recent_events: Sequence[Interaction | Sequence],
    passes: int = 2,
    val_frac: float = 0.2,
    *,
    warmup_frac: float = 0.5,
    lr: float | None = None,
    score_batch: int = 50,
    against_heuristic: bool = False,
) -> FinetuneResult:
    """Fine-tune a copy of ``current`` on ``recent_events``; see the module docstring for the protocol."""
    t0 = time.perf_counter()
    events = as_interactions(recent_events)
    n_val = max(1, int(round(len(events) * val_frac)))
    n_fit = len(events) - n_val
    if n_fit < 1:
        raise ValueError(f"need more than {n_val} events to fine-tune, got {len(events)}")
    quiet = {"finetune_every": None, "epochs": 0, "progress": False, "memory_batch_size": score_batch}

    candidate = current.clone(**quiet)
    fit = train(candidate, events[:n_fit], epochs=passes, warmup=int(n_fit * warmup_frac), freeze_memory=True,
                lr=lr, progress=False, desc="finetune")
    val_new = validation_mrr(candidate, events[n_fit:], score_batch)

    baseline = current.clone(**quiet)
    for ev in events[:n_fit]:
        baseline.learn_event(ev)
    baseline.flush_memory()
    val_old = validation_mrr(baseline, events[n_fit:], score_batch)

    val_heur = heuristic_mrr(events[:n_fit], events[n_fit:], score_batch) if against_heuristic else float("nan")
    published = (math.isfinite(val_new) and (math.isnan(val_old) or val_new >= val_old)
                 and (math.isnan(val_heur) or val_new >= val_heur))
    return FinetuneResult(
        model=candidate.model.weights(),
        version=new_version() if published else current.version,
        train_loss=fit.losses[-1] if fit.losses else float("nan"),
        val_mrr_new=val_new,
        val_mrr_old=val_old,
        published=published,
        duration_s=time.perf_counter() - t0,
        n_train=n_fit,
        n_val=n_val,
        val_mrr_heuristic=val_heur,
    )
