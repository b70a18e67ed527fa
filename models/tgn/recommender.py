"""``tgn``: the temporal graph network behind the :class:`~models.base.Recommender` interface.

It reads the serving graph (:class:`graph_store.GraphStore`) for neighbours and pair statistics, keeps
the TGN memory and multi-scale popularity as its own state, and scores every known item per query.

Two ways to drive it:

* **evaluation** (``TGNRecommender()`` without a store): it owns a :class:`MemoryGraphStore` and applies
  each learned event itself. Events learned before the first ``score`` are its training history: with
  ``epochs > 0`` it trains on them then (replaying them from an empty state each epoch), so the harness's
  "learn the train span, then test-then-learn" protocol trains it exactly once, on the train span only.
* **serving** (``TGNRecommender.from_checkpoint(path, store=rocks_store)``): the worker applies events to
  the store and calls :meth:`learn_event` / :meth:`recommend`.

Per event, ``learn_one`` applies the event to the store and popularity at once (so pair features are
exact per event) and folds it into the memory in micro-batches of ``memory_batch_size`` (1 = exact
per-event memory). With ``finetune_every=N`` it fine-tunes on the recent window every N learned events
(and early when :class:`~models.tgn.drift.DriftMonitor` flags a drop in the online hit rate), synchronously,
exactly as a serving trainer would on the same timeline; a fine-tune swaps weights, never memory.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from graph_store.base import GraphConfig, GraphStore
from graph_store.events import Interaction
from graph_store.memory import MemoryGraphStore
from models.base import Recommender, top_k
from models.device import choose_device
from models.tgn.checkpoint import Checkpoint, load_checkpoint, new_version, save_checkpoint
from models.tgn.drift import DriftMonitor
from models.tgn.features import DEFAULT_TAUS, FeatureBuilder, QueryBatch, collate
from models.tgn.model import TGNModel, build_model, event_messages
from models.tgn.retrieval import plan_chunks, popular_items, rest_scores


class TGNRecommender(Recommender):
    """Temporal graph network recommender: TGN memory + query-time attention + temporal pair features.

    Parameters
    ----------
    store
        The serving graph to read. ``None``: own a fresh :class:`MemoryGraphStore` and apply learned
        events to it (evaluation). Given: the caller applies events to it before ``learn_event``.
    memory_dim, time_dim, embedding_dim, heads, dropout
        TGN memory / time encoding / attention embedding sizes (PyG ``examples/tgn.py`` uses 100).
    hidden, item_hidden
        Widths of the pair-history and item-term MLPs.
    n_neighbours
        Recent items the attention embedding looks at.
    n_recent
        Recent user events read for sequence features.
    n_touched, n_cousers
        Pair / two-hop feature budgets (see :class:`~models.tgn.features.FeatureBuilder`).
    taus
        Popularity time scales in seconds.
    numeric_attrs
        Event attributes used as item features and memory messages (e.g. ``("price",)``).
    use_embedding
        Include the ``<z_u, z_i>`` term (``False`` = memoryless ablation).
    prior_weight
        Scale of the fixed ``recency_pop``-like prior the learned terms correct (an untrained model is
        that prior; 0 = none).
    epochs, batch_size, lr, weight_decay, max_candidates, n_random, n_popular
        Training: epochs over the history learned before the first score; events per step; Adam settings;
        the listwise softmax runs over all known items when there are at most ``max_candidates``, else
        over the batch's positives, its users' past items, ``n_popular`` popular and ``n_random`` random
        items. Scoring, likewise, ranks every known item up to ``max_candidates`` of them, and above that
        retrieved candidates only (the user's own, "what comes next" and the ``n_popular`` most popular
        items per time scale; :mod:`models.tgn.retrieval`).
    memory_batch_size
        Learned events folded into the memory at once when serving / evaluating (1 = per event).
    finetune_every, finetune_window, finetune_passes, finetune_val_frac, finetune_lr
        Periodic fine-tuning on the last ``finetune_window`` events (``None`` = never); its learning rate
        defaults to ``lr / 10`` (small steps from the trained weights).
    drift_k, drift_delta
        Online hit@k tracked with ADWIN (``delta``); a detected drop triggers an early fine-tune.
    seed
        Seeds weight initialisation and sampling: same seed, same scores.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"`` (see :func:`models.device.choose_device`).
    progress
        Show tqdm bars while training.
    """

    name = "tgn"

    def __init__(
        self,
        store: GraphStore | None = None,
        *,
        memory_dim: int = 100,
        time_dim: int = 100,
        embedding_dim: int = 100,
        heads: int = 2,
        dropout: float = 0.1,
        hidden: int = 64,
        item_hidden: int = 32,
        n_neighbours: int = 10,
        n_recent: int = 50,
        n_touched: int = 10,
        n_cousers: int = 20,
        taus: Sequence[float] = DEFAULT_TAUS,
        numeric_attrs: Sequence[str] = (),
        use_embedding: bool = True,
        prior_weight: float = 1.0,
        epochs: int = 3,
        batch_size: int = 200,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        max_candidates: int = 2048,
        n_random: int = 500,
        n_popular: int = 200,
        memory_batch_size: int = 1,
        finetune_every: int | None = None,
        finetune_window: int = 20_000,
        finetune_passes: int = 2,
        finetune_val_frac: float = 0.2,
        finetune_lr: float | None = None,
        drift_k: int = 10,
        drift_delta: float = 0.002,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = False,
    ) -> None:
        self.memory_dim = memory_dim
        self.time_dim = time_dim
        self.embedding_dim = embedding_dim
        self.heads = heads
        self.dropout = dropout
        self.hidden = hidden
        self.item_hidden = item_hidden
        self.n_neighbours = n_neighbours
        self.n_recent = n_recent
        self.n_touched = n_touched
        self.n_cousers = n_cousers
        self.taus = tuple(float(x) for x in taus)
        self.numeric_attrs = tuple(numeric_attrs)
        self.use_embedding = use_embedding
        self.prior_weight = prior_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_candidates = max_candidates
        self.n_random = n_random
        self.n_popular = n_popular
        self.memory_batch_size = memory_batch_size
        self.finetune_every = finetune_every
        self.finetune_window = finetune_window
        self.finetune_passes = finetune_passes
        self.finetune_val_frac = finetune_val_frac
        self.finetune_lr = finetune_lr
        self.drift_k = drift_k
        self.drift_delta = drift_delta
        self.seed = seed
        self.device = device
        self.progress = progress

        self.owns_store = store is None
        self.store: GraphStore = store if store is not None else MemoryGraphStore(self._graph_config())
        self.features = FeatureBuilder(self.store, self.taus, n_recent, n_neighbours, self.numeric_attrs,
                                       n_touched=n_touched, n_cousers=n_cousers)
        self._device = choose_device(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model: TGNModel = build_model(
                self.features.item_dim, msg_dim=1 + len(self.numeric_attrs), memory_dim=memory_dim,
                time_dim=time_dim, embedding_dim=embedding_dim, heads=heads, dropout=dropout, hidden=hidden,
                item_hidden=item_hidden, use_embedding=use_embedding, n_pop=len(self.taus),
                prior_weight=prior_weight, device=self._device,
            )
        self.model.eval()
        self.rng = np.random.default_rng(seed)
        self.version = "untrained"
        self.fitted = epochs <= 0 or not self.owns_store  # an external store: train with training.train()
        self.drift = DriftMonitor(k=drift_k, delta=drift_delta)
        self.finetunes: list[Any] = []  # FinetuneResult of every fine-tune run, published or not
        self._history: list[Interaction] = []  # events learned before the first score (training data)
        self._pending: list[tuple[int, int, float, Any]] = []  # learned, not yet in the memory
        self._last_top: dict[int, np.ndarray] = {}  # user -> top-k of the last list scored for them
        self._since_finetune = 0
        self._n_learned = 0
        #: Set when a first model lost to the serving heuristic: candidates must then beat it too.
        self.must_beat_heuristic = False

    # ------------------------------------------------------------------ configuration
    def _graph_config(self) -> GraphConfig:
        return GraphConfig(max_neighbours=max(self.n_neighbours, self.n_recent, 1),
                           window_size=max(self.finetune_window, 1024))

    def get_params(self) -> dict[str, Any]:
        """Every constructor argument except ``store`` (river's ``_get_params``), JSON-friendly."""
        out = {}
        for name in (
            "memory_dim", "time_dim", "embedding_dim", "heads", "dropout", "hidden", "item_hidden", "n_neighbours",
            "n_recent", "n_touched", "n_cousers", "taus", "numeric_attrs", "use_embedding", "prior_weight", "epochs",
            "batch_size", "lr", "weight_decay", "max_candidates", "n_random", "n_popular", "memory_batch_size",
            "finetune_every", "finetune_window", "finetune_passes", "finetune_val_frac", "finetune_lr", "drift_k",
            "drift_delta", "seed", "device", "progress",
        ):
            v = getattr(self, name)
            out[name] = list(v) if isinstance(v, tuple) else v
        return out

    def clone(self, store: GraphStore | None = None, **overrides: Any) -> TGNRecommender:
        """A fresh recommender (empty state) with these hyperparameters, ``overrides`` and a copy of the weights."""
        params = {**self.get_params(), **overrides}
        other = TGNRecommender(store, **params)
        other.model.load_weights(self.model.weights())
        other.version = self.version
        other.fitted = True
        return other

    @classmethod
    def param_grid(cls) -> list[dict[str, Any]]:
        """Two learning rates; everything else is fixed (each candidate trains from scratch: keep it small)."""
        return [{"lr": 3e-3}, {"lr": 1e-3}]

    # ------------------------------------------------------------------ lifecycle
    def reset_state(self) -> None:
        """Forget every event (memory, popularity, and the graph when owned); weights are kept."""
        if self.owns_store:
            self.store = MemoryGraphStore(self._graph_config())
            self.features.store = self.store
        self.features.reset_state()
        self.model.reset_state()
        self._pending.clear()
        self._last_top.clear()
        self._n_learned = 0

    # ------------------------------------------------------------------ learning
    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        ev = Interaction(str(user), str(item), float(t), weight=float(weight))
        if self.owns_store:
            applied = self._apply(ev)
            if applied is not None and (applied[0] != user or applied[1] != item):
                raise ValueError(
                    f"dense ids must follow first appearance: got ({user}, {item}), store says {applied}"
                )
        else:
            self.learn_event(ev)

    def learn_event(self, event: Interaction) -> tuple[int, int] | None:
        """Learn one event; returns its dense ``(user, item)`` (``None`` if the store skipped it).

        With an owned store the event is applied to it here; otherwise the caller has applied it already.
        """
        if self.owns_store:
            return self._apply(event)
        u, i = self.store.user_index(event.user_id), self.store.item_index(event.item_id)
        if u is None or i is None:
            raise KeyError(f"event {event} is not in the store: apply it to the store first")
        self._observe(u, i, event)
        return u, i

    def replay(self, events: Iterable[Interaction]) -> int:
        """Learn ``events`` as state only (memory, store, features): no fine-tune fires, and the fine-tune
        schedule starts afresh afterwards. For rebuilding state after a restart; returns how many were learned."""
        every, self.finetune_every = self.finetune_every, None
        n = 0
        try:
            for ev in events:
                n += self.learn_event(ev) is not None
        finally:
            self.finetune_every = every
            self._since_finetune = 0
        return n

    def _apply(self, event: Interaction) -> tuple[int, int] | None:
        applied = self.store.apply([event])[0]
        if applied is None:
            return None
        self._observe(applied.user, applied.item, event)
        return applied.user, applied.item

    def _observe(self, u: int, i: int, event: Interaction) -> None:
        self._n_learned += 1
        if not self.fitted:  # training history: the fit replays it from an empty state anyway
            self._history.append(event)
            return
        t, w = float(event.ts), float(event.weight)
        self.features.observe(u, i, t, w, event.attrs)
        self._pending.append((u, i, t, self._message(event)))
        top = self._last_top.pop(u, None)
        drift = self.drift.update(bool(top is not None and i in top)) if top is not None else False
        if len(self._pending) >= self.memory_batch_size:
            self.flush_memory()
        if self.finetune_every and self.fitted:
            self._since_finetune += 1
            min_gap = max(self.finetune_every // 4, 1)
            if self._since_finetune >= self.finetune_every or (drift and self._since_finetune >= min_gap):
                self.run_finetune()

    def _message(self, event: Interaction) -> torch.Tensor:
        attrs = None
        if self.numeric_attrs:
            vals = [event.attrs.get(a, 0.0) for a in self.numeric_attrs]
            attrs = torch.tensor([[float(v) if isinstance(v, (int, float)) else 0.0 for v in vals]])
        return event_messages(torch.tensor([float(event.weight)]), attrs)[0]

    def flush_memory(self) -> None:
        """Fold the pending learned events into the TGN memory."""
        if not self._pending:
            return
        u, i, t, msg = zip(*self._pending)
        self._pending.clear()
        with torch.no_grad():
            self.model.update_state(np.array(u), np.array(i), np.array(t), torch.stack(msg))

    # ------------------------------------------------------------------ training / fine-tuning
    def fit(self, epochs: int | None = None, val_frac: float = 0.0) -> Any:
        """Train on the history learned so far (replayed from an empty state), if not trained yet.

        ``val_frac > 0`` (the trainer's first model): train on all but the newest ``val_frac`` of the
        history, then score that slice test-then-learn (so the state still holds every event) beside the
        serving heuristic on the same slice. The model gets a version only if it is not worse; otherwise it
        stays ``"untrained"`` (nothing to publish) and later fine-tunes must beat the heuristic as well.
        The result carries ``val_mrr`` and ``val_mrr_heuristic`` then.
        """
        from models.tgn.finetune import heuristic_mrr
        from models.tgn.training import score_then_learn, train

        history, self._history = self._history, []
        self.fitted = True
        if not history or not self.owns_store:
            return None
        n_val = int(round(len(history) * val_frac)) if len(history) > 1 else 0
        fit_part = history[: len(history) - n_val]
        result = train(self, fit_part, epochs=self.epochs if epochs is None else epochs, progress=self.progress)
        if n_val:
            ranks = score_then_learn(self, history[len(fit_part):], score_batch=50)
            self.flush_memory()
            result.val_mrr = float(np.mean(1.0 / ranks))
            result.val_mrr_heuristic = heuristic_mrr(fit_part, history[len(fit_part):])
        self._n_learned = len(history)
        if n_val and not result.val_mrr >= result.val_mrr_heuristic:
            self.must_beat_heuristic = True
            return result
        self.version = new_version()
        return result

    def run_finetune(self) -> Any:
        """Fine-tune on the recent window now; publish (swap weights) only if validation is not worse
        (than the current weights, and than the serving heuristic while :attr:`must_beat_heuristic`)."""
        from models.tgn.finetune import finetune

        self._since_finetune = 0
        window = self.window_events(self.finetune_window)
        lr = self.finetune_lr if self.finetune_lr is not None else self.lr / 10
        result = finetune(self, window, passes=self.finetune_passes, val_frac=self.finetune_val_frac, lr=lr,
                          against_heuristic=self.must_beat_heuristic)
        self.finetunes.append(result)
        if result.published:
            self.model.load_weights(result.model)
            self.version = result.version
            self.must_beat_heuristic = False
        return result

    def window_events(self, limit: int) -> list[Interaction]:
        """The store's last ``limit`` events (with their numeric attributes), for a fine-tune replay."""
        users, items, ts, weights = self.store.recent_arrays(limit)
        attrs = self.store.recent_event_attrs(limit) if self.numeric_attrs else [None] * len(ts)
        return [
            Interaction(str(u), str(i), t, weight=w, attrs=a or {})
            for u, i, t, w, a in zip(users.tolist(), items.tolist(), ts.tolist(), weights.tolist(), attrs)
        ]

    # ------------------------------------------------------------------ scoring
    def _ensure_fitted(self) -> None:
        if not self.fitted:
            self.fit()

    def query_batch(self, users: Sequence[int], ts: Sequence[float]) -> QueryBatch:
        """Features of ``(user, t)`` queries over all items in the store (state as it stands)."""
        n_users = self.store.n_users
        queries = [self.features.query(int(u) if 0 <= int(u) < n_users else -1, float(t))
                   for u, t in zip(users, ts)]
        cand = np.arange(self.store.n_items, dtype=np.int64)
        return collate(queries, cand, self.features.item_dim, self.n_neighbours)

    def score_many(self, users: Sequence[int], ts: Sequence[float], n_items: int) -> np.ndarray:
        """Scores of every known item; above ``max_candidates`` items only retrieved candidates are ranked
        by the model and the rest follow below them by popularity (see :mod:`models.tgn.retrieval`)."""
        self._ensure_fitted()
        if len(users) == 0:
            return np.zeros((0, n_items))
        self.model.eval()
        m = min(n_items, self.store.n_items)
        out = np.full((len(users), n_items), -np.inf)
        if self.store.n_items <= self.max_candidates:
            with torch.no_grad():
                scores = self.model(self.query_batch(users, ts)).double().cpu().numpy()
            out[:, :m] = scores[:, :m]
        else:
            out[:, :m] = self._score_retrieved(users, ts)[:, :m]
        k = min(self.drift_k, m)
        if k > 0:
            top = np.argpartition(-out[:, :m], k - 1, axis=1)[:, :k]
            for row, u in enumerate(users):
                self._last_top[int(u)] = top[row]
        return out

    def _score_retrieved(self, users: Sequence[int], ts: Sequence[float]) -> np.ndarray:
        """Retrieve-then-rank over a large catalogue: ``(len(users), store.n_items)`` scores."""
        n, n_users = self.store.n_items, self.store.n_users
        none = np.zeros(0, dtype=np.int64)
        queries = [self.features.query(int(u) if 0 <= int(u) < n_users else -1, float(t), items=none)
                   for u, t in zip(users, ts)]
        t_ref = float(max(ts))
        shared = popular_items(self.features.popularity, t_ref, n, self.n_popular)
        # the items not retrieved follow by mean log popularity, squashed into [0, 1)
        rest = 0.5 * (1.0 + np.tanh(np.log1p(self.features.popularity.at(t_ref, n)).mean(axis=1) - 2.0))
        rest = np.minimum(rest, np.nextafter(1.0, 0.0))
        out = np.empty((len(users), n))
        for rows, cand in plan_chunks(queries, shared, self.max_candidates):
            chunk = [queries[r].with_items(self.features.item_state(queries[r].t, n, cand), cand) for r in rows]
            with torch.no_grad():
                scores = self.model(collate(chunk, cand, self.features.item_dim, self.n_neighbours))
            scores = scores.double().cpu().numpy()
            for j, r in enumerate(rows):
                out[r] = rest_scores(scores[j], rest)
                out[r, cand] = scores[j]
        return out

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        return self.score_many([user], [t], n_items)[0]

    def recommend(self, user_id: str, t: float, k: int = 10) -> list[tuple[str, float]]:
        """Top-``k`` ``(item_id, score)`` for an external user id at time ``t`` (serving)."""
        u = self.store.user_index(user_id)
        scores = self.score(-1 if u is None else u, t, self.store.n_items)
        return [(self.store.item_id(i), s) for i, s in top_k(scores, k)]

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(
        self, metrics: Mapping[str, Any] | None = None, window: Mapping[str, Any] | None = None
    ) -> Checkpoint:
        """Everything needed to serve again: hyperparameters, weights, memory / popularity state."""
        self.flush_memory()
        if self.version == "untrained":
            self.version = new_version()
        return Checkpoint(
            config=self.get_params(),
            state_dict=self.model.weights(),
            memory_state=self.state_snapshot(),
            version=self.version,
            created_at=time.time(),
            window=dict(window or {}),
            metrics=dict(metrics or {}),
        )

    def state_snapshot(self) -> dict[str, Any]:
        """The learned *state* (TGN memory, popularity and attribute state, events learned), not the weights:
        tensors and plain values only, so it loads with ``torch.load(weights_only=True)``."""
        self.flush_memory()
        return {"model": self.model.state(), "features": self.features.state_dict(), "n_learned": self._n_learned}

    def load_state_snapshot(self, snapshot: Mapping[str, Any]) -> None:
        """Restore :meth:`state_snapshot` (the store should hold the events it was built from)."""
        self.model.load_state(snapshot["model"])
        self.features.load_state_dict(snapshot["features"])
        self._n_learned = int(snapshot.get("n_learned", 0))

    def save(
        self, path: str, metrics: Mapping[str, Any] | None = None, window: Mapping[str, Any] | None = None
    ) -> Checkpoint:
        """Write :meth:`checkpoint` to ``path`` atomically."""
        ckpt = self.checkpoint(metrics, window)
        save_checkpoint(path, ckpt)
        return ckpt

    @classmethod
    def from_checkpoint(
        cls, path_or_ckpt: str | Checkpoint, store: GraphStore | None = None, **overrides: Any
    ) -> TGNRecommender:
        """A recommender with the checkpoint's weights and state, reading ``store`` (which should hold the
        events the state was built from; ``None`` = an empty owned store and weights only, no state)."""
        ckpt = load_checkpoint(path_or_ckpt) if isinstance(path_or_ckpt, str) else path_or_ckpt
        params = {**ckpt.config, **overrides}
        params["epochs"] = 0
        rec = cls(store, **params)
        rec.model.load_weights(ckpt.state_dict)
        if store is not None:
            rec.load_state_snapshot(ckpt.memory_state)
        rec.version = ckpt.version
        rec.fitted = True
        return rec
