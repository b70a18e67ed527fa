"""Serving the TGN in a worker: memory updated per event, hot-swapped weights, heuristic until a model exists.

The worker's TGN reads the worker's own graph store (its partitions' users and their items). Weights come
from the trainer through ``model-updates``; memory and popularity state are the worker's own, built from
the events it applies (and, when a model first arrives or the worker restarts, from the store's recent
window), so a hot swap changes weights and never loses memory.
"""
from __future__ import annotations

import logging
import time
from typing import Sequence

import numpy as np

from graph_store.events import Interaction
from models.base import top_k
from stream.processor import HeuristicScorer
from stream.settings import Settings

log = logging.getLogger("streamrec.tgn")


class TGNScorer:
    """The processor's :class:`~stream.processor.Scorer` for ``--model tgn``."""

    def __init__(self, store, device: str = "auto", memory_batch_size: int = 200, warm_events: int = 5000) -> None:
        self.store = store
        self.warm_events = warm_events
        self.device = device
        self.memory_batch_size = memory_batch_size
        self.fallback = HeuristicScorer(store)
        self.rec = None  # models.tgn.TGNRecommender once a model was loaded
        self.created_at = time.time()
        self.train_metrics: dict = {}

    @classmethod
    def from_settings(cls, settings: Settings, store) -> "TGNScorer":
        scorer = cls(store, device=settings.device)
        if settings.checkpoint:
            scorer.load(settings.checkpoint)
        return scorer

    @property
    def model_version(self) -> str:
        return self.rec.version if self.rec is not None else self.fallback.model_version

    def load(self, path: str, metrics: dict | None = None) -> str:
        """Serve the weights in checkpoint ``path`` (hot swap: the memory state is kept)."""
        from models.tgn.checkpoint import load_checkpoint
        from models.tgn.recommender import TGNRecommender

        ckpt = load_checkpoint(path)
        if self.rec is None:
            params = {**ckpt.config, "epochs": 0, "finetune_every": None, "progress": False,
                      "memory_batch_size": self.memory_batch_size, "device": self.device}
            rec = TGNRecommender(self.store, **params)
            rec.model.load_weights(ckpt.state_dict)
            self._warm(rec)
            self.rec = rec
        else:
            self.rec.flush_memory()
            self.rec.model.load_weights(ckpt.state_dict)
        self.rec.version = ckpt.version
        self.created_at = ckpt.created_at
        self.train_metrics = dict(metrics or ckpt.metrics or {})
        log.info("serving %s from %s", ckpt.version, path)
        return ckpt.version

    def _warm(self, rec) -> None:
        """Build memory and popularity from the store's newest events (applied before the model came).

        Bounded by ``warm_events`` so a hot swap into a large store stays quick: memory and popularity
        are dominated by recent events anyway, and pair features always read the whole store.
        """
        users, items, ts, weights = self.store.recent_arrays(self.warm_events)
        for u, i, t, w in zip(users.tolist(), items.tolist(), ts.tolist(), weights.tolist()):
            rec.learn_event(Interaction(self.store.user_id(u), self.store.item_id(i), t, weight=w))
        rec.flush_memory()

    def observe(self, events: Sequence[Interaction], applied: Sequence[object | None]) -> None:
        if self.rec is None:
            return
        for ev, a in zip(events, applied):
            if a is not None:
                self.rec.learn_event(ev)

    def recommend(self, users: Sequence[int], ts: Sequence[float], k: int) -> list[list[tuple[int, float]]]:
        if self.rec is None:
            return self.fallback.recommend(users, ts, k)
        if not users:
            return []
        self.rec.flush_memory()  # the lists include the events just observed
        scores = self.rec.score_many(list(users), list(ts), self.store.n_items)
        out = []
        for u, t, row in zip(users, ts, np.asarray(scores)):
            if np.isnan(row).any() or np.isposinf(row).any():  # a broken model must not reach the wire
                log.warning("non-finite TGN scores for user %d; answering with the heuristic", u)
                out.extend(self.fallback.recommend([u], [t], k))
            else:
                out.append(top_k(row, k))
        return out
