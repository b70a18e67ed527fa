"""Serving the TGN in a worker: memory updated per event, hot-swapped weights, heuristic until a model exists.

The worker's TGN reads the worker's own graph store (its partitions' users and their items). Weights come
from the trainer through ``model-updates``; memory and popularity state are the worker's own, built from
the events it applies, so a hot swap changes weights and never loses memory.

Across restarts the state survives through a *snapshot*: every ``snapshot_every`` events, after the
store's transaction has committed, the adapter writes its memory and popularity state with the store's
event count beside the RocksDB graph. A restarted worker loads the snapshot and replays only the events
the store applied after it (from the store's recent-events ring). Without a usable snapshot (first start,
a snapshot ahead of the store, a gap longer than the ring) it warms from the store's newest
``warm_events`` events instead.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from graph_store.events import Interaction
from models.base import top_k
from stream.processor import HeuristicScorer
from stream.settings import Settings

log = logging.getLogger("streamrec.tgn")


class TGNScorer:
    """The processor's :class:`~stream.processor.Scorer` for ``--model tgn``."""

    def __init__(self, store, device: str = "auto", memory_batch_size: int = 200, warm_events: int = 5000,
                 snapshot_path: str | Path | None = None, snapshot_every: int = 5000) -> None:
        self.store = store
        self.warm_events = warm_events
        self.snapshot_path = Path(snapshot_path) if snapshot_path else None
        self.snapshot_every = snapshot_every
        self._since_snapshot = 0
        #: How the state of the first model was built: "snapshot" (+ replayed tail), "warm" or None.
        self.restored: str | None = None
        self.device = device
        self.memory_batch_size = memory_batch_size
        self.fallback = HeuristicScorer(store)
        self.rec = None  # models.tgn.TGNRecommender once a model was loaded
        self.created_at = time.time()
        self.train_metrics: dict = {}

    @classmethod
    def from_settings(cls, settings: Settings, store) -> "TGNScorer":
        scorer = cls(store, device=settings.device, snapshot_path=settings.data_dir / "tgn-state.pt")
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
            self.restored = "snapshot" if self._restore(rec) else "warm"
            if self.restored == "warm":
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
        self._replay(rec, self.warm_events)

    def _replay(self, rec, n: int) -> None:
        """Learn the store's last ``n`` events (with their numeric attributes) into ``rec``'s state.

        Exact for memory inputs, counts and times; an item's "stay" count reads the store as it is now, so
        for replayed events it is approximate."""
        if n <= 0:
            return
        users, items, ts, weights = self.store.recent_arrays(n)
        attrs = self.store.recent_event_attrs(n) if rec.numeric_attrs else [None] * len(ts)
        for u, i, t, w, a in zip(users.tolist(), items.tolist(), ts.tolist(), weights.tolist(), attrs):
            rec.learn_event(Interaction(self.store.user_id(u), self.store.item_id(i), t, weight=w, attrs=a or {}))
        rec.flush_memory()

    def _restore(self, rec) -> bool:
        """Load the snapshot and replay the store's events after it; False if there is none usable."""
        import torch

        if self.snapshot_path is None or not self.snapshot_path.is_file():
            return False
        try:
            snap = torch.load(self.snapshot_path, map_location="cpu", weights_only=True)
            applied = self.store.counts().events
            tail = applied - int(snap["store_events"])
            if tail < 0 or tail > len(self.store.recent_arrays()[0]):
                log.warning("TGN state snapshot at %d events does not match the store (%d events): warming instead",
                            snap["store_events"], applied)
                return False
            rec.load_state_snapshot(snap["state"])
        except Exception as exc:  # a damaged or foreign snapshot must not stop the worker
            log.warning("cannot use the TGN state snapshot %s (%s): warming instead", self.snapshot_path, exc)
            return False
        self._replay(rec, tail)
        log.info("TGN state restored from %s (%d events) plus %d replayed", self.snapshot_path, snap["store_events"], tail)
        return True

    def snapshot(self) -> Path | None:
        """Write the state now (atomically), stamped with the store's event count."""
        from models.tgn.checkpoint import atomic_torch_save

        if self.rec is None or self.snapshot_path is None:
            return None
        self._since_snapshot = 0
        return atomic_torch_save(self.snapshot_path, {"store_events": self.store.counts().events,
                                                      "version": self.rec.version, "state": self.rec.state_snapshot()})

    def after_commit(self) -> None:
        """Called by the processor once a batch's store transaction committed: snapshot when due."""
        if self.rec is not None and self.snapshot_path is not None and self._since_snapshot >= self.snapshot_every:
            self.snapshot()

    def close(self) -> None:
        """Snapshot on a clean stop, so a restart replays nothing."""
        if self.rec is not None and self.snapshot_path is not None:
            self.snapshot()

    def observe(self, events: Sequence[Interaction], applied: Sequence[object | None]) -> None:
        if self.rec is None:
            return
        for ev, a in zip(events, applied):
            if a is not None:
                self.rec.learn_event(ev)
                self._since_snapshot += 1

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
