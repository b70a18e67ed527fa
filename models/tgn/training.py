"""Self-supervised temporal link prediction for :class:`~models.tgn.recommender.TGNRecommender`.

The PyG loop, per chronological batch: build each event's features from the state *before* it, at the
time its list would have been served (:class:`~models.evaluation.protocol.ServedClock`: the user's previous
event, never the event's own time), as the worker and the harness score it (pair features are exact per
event: the graph and popularity take each event right after its query is built),
score the candidates with the memory as it stood before the batch, take a listwise softmax loss over
(positive + negatives), and only then fold the batch into the memory. Negatives are every item known
at the time when the catalogue is small (``max_candidates``), otherwise a sample (:func:`sampled_pool`): the
batch's positives, popular and random items, plus each user's own past and "what comes next" items.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from graph_store.events import Interaction
from models.evaluation.metrics import expected_rank, rank_counts
from models.evaluation.protocol import ServedClock
from models.tgn.features import Query, collate
from models.tgn.retrieval import user_candidates

if TYPE_CHECKING:
    from models.tgn.recommender import TGNRecommender


@dataclass
class TrainResult:
    """Mean loss and wall seconds per epoch, and how many events each epoch saw."""

    losses: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    n_events: int = 0
    #: With a held-out slice (``TGNRecommender.fit(val_frac=...)``): its MRR, and the serving heuristic's.
    val_mrr: float = float("nan")
    val_mrr_heuristic: float = float("nan")


def as_interactions(events: Iterable[Interaction | Sequence]) -> list[Interaction]:
    """Accept :class:`Interaction` records or ``(user, item, ts[, weight])`` tuples (ids made strings).

    >>> as_interactions([(0, 5, 1.0, 2.0)])[0]
    Interaction(user_id='0', item_id='5', ts=1.0, event_type='interaction', weight=2.0, event_id=None, attrs={})
    """
    out = []
    for ev in events:
        if isinstance(ev, Interaction):
            out.append(ev)
        else:
            w = float(ev[3]) if len(ev) > 3 else 1.0
            out.append(Interaction(str(ev[0]), str(ev[1]), float(ev[2]), weight=w))
    return out


def candidates(
    rec: TGNRecommender, n_items: int, positives: np.ndarray, queries: Sequence[Query], t: float
) -> np.ndarray:
    """The batch's shared candidate items (sorted): all known items, or a sample for big catalogues."""
    if n_items <= rec.max_candidates:
        return np.arange(n_items, dtype=np.int64)
    pop = rec.features.popularity.at(t, n_items)[:, -1]
    n_pop = min(rec.n_popular, n_items)
    parts = [
        positives[positives < n_items],
        *[q.hist_item[: rec.max_candidates // max(len(queries), 1)] for q in queries],
        np.argpartition(-pop, n_pop - 1)[:n_pop] if n_pop > 0 else np.zeros(0, dtype=np.int64),
        rec.rng.integers(0, n_items, size=rec.n_random),
    ]
    return np.unique(np.concatenate(parts).astype(np.int64))


def train(
    rec: TGNRecommender,
    events: Sequence[Interaction | Sequence],
    epochs: int = 3,
    *,
    batch_size: int | None = None,
    lr: float | None = None,
    warmup: int = 0,
    freeze_memory: bool = False,
    progress: bool = True,
    desc: str = "train",
) -> TrainResult:
    """Train ``rec`` on ``events`` (chronological) for ``epochs`` passes; each pass replays them from an
    empty state, so afterwards ``rec``'s state (graph, popularity, memory) holds exactly ``events``.

    ``warmup``: the first events only build state (no loss), e.g. the older part of a fine-tune window.
    ``epochs=0`` trains nothing but still replays ``events`` once, so the state holds them.
    ``freeze_memory``: keep the memory's GRU / message weights fixed (fine-tuning keeps live memory
    consistent with them). The owned graph store is replaced by a fresh one per pass.
    """
    if not rec.owns_store:
        raise ValueError("training replays events into the recommender's own store; construct it without one")
    events = as_interactions(events)
    net = rec.model
    bs = batch_size or rec.batch_size
    params = [p for n, p in net.named_parameters() if not (freeze_memory and n.startswith("memory."))]
    opt = torch.optim.Adam(params, lr=lr or rec.lr, weight_decay=rec.weight_decay)
    result = TrainResult(n_events=len(events))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(rec.seed)
        state_only = epochs == 0
        if state_only:
            warmup, epochs = len(events), 1  # one pass without loss
        for epoch in range(epochs):
            t0 = time.perf_counter()
            rec.reset_state()
            clock = ServedClock()
            net.train()
            total, rows = 0.0, 0
            bar = tqdm(total=len(events), desc=f"{desc} {epoch + 1}/{epochs}", disable=not progress, unit="ev",
                       mininterval=1.0)
            for start in range(0, len(events), bs):
                chunk = events[start : start + bs]
                loss, n = _step(rec, chunk, start, warmup, clock)
                if loss is not None:
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * n
                    rows += n
                net.detach()
                bar.update(len(chunk))
                if rows:
                    bar.set_postfix(loss=f"{total / rows:.4f}", refresh=False)
            bar.close()
            net.eval()  # PyG: leaving train mode folds pending messages into the memory
            if not state_only:
                result.losses.append(total / max(rows, 1))
                result.seconds.append(time.perf_counter() - t0)
    rec.fitted = True
    return result


def sampled_pool(rec: TGNRecommender, chunk: Sequence[Interaction]) -> np.ndarray | None:
    """For a catalogue above ``max_candidates``: the items every query of ``chunk`` describes, chosen from
    the state *before* the batch (its known positives, popular and random items); ``None`` otherwise.

    Each query then captures item features for this pool, its own past / next items and the items that
    first appeared earlier in the batch -- not for the whole catalogue (memory and time stay bounded)."""
    store = rec.store
    n = store.n_items
    if n <= rec.max_candidates:
        return None
    pos = [store.item_index(ev.item_id) for ev in chunk]
    t = float(chunk[0].ts)
    pop = rec.features.popularity.at(t, n)[:, -1]
    n_pop = min(rec.n_popular, n)
    parts = [np.array([p for p in pos if p is not None], dtype=np.int64),
             np.argpartition(-pop, n_pop - 1)[:n_pop] if n_pop > 0 else np.zeros(0, dtype=np.int64),
             rec.rng.integers(0, n, size=rec.n_random)]
    return np.unique(np.concatenate(parts).astype(np.int64))


def _step(
    rec: TGNRecommender, chunk: Sequence[Interaction], start: int, warmup: int, clock: ServedClock
) -> tuple[torch.Tensor | None, int]:
    """One batch: per-event queries (then apply), loss over the batch, then the memory update."""
    store, features = rec.store, rec.features
    queries: list[Query] = []
    users, items, ts, msgs = [], [], [], []
    pool = sampled_pool(rec, chunk)
    appeared: list[int] = []  # items first seen in this batch (not in the pool)
    for ev in chunk:
        u = store.user_index(ev.user_id)
        t_q = clock.query_time(ev.user_id, float(ev.ts))
        if pool is None:
            q = features.query(-1 if u is None else u, t_q)
        else:
            q = features.query(-1 if u is None else u, t_q, items=np.zeros(0, dtype=np.int64))
            rows = np.unique(np.concatenate([pool, np.asarray(appeared, dtype=np.int64),
                                             user_candidates(q, max(rec.max_candidates // 4, 1))]))
            q = q.with_items(features.item_state(t_q, store.n_items, rows), rows)
        n_before = store.n_items
        applied = store.apply([ev])[0]
        if applied is None:
            continue
        clock.observe(ev.user_id, float(ev.ts))
        if applied.item >= n_before:
            appeared.append(applied.item)
        features.observe(applied.user, applied.item, float(ev.ts), float(ev.weight), ev.attrs)
        queries.append(q)
        users.append(applied.user)
        items.append(applied.item)
        ts.append(float(ev.ts))
        msgs.append(rec._message(ev))
    if not queries:
        return None, 0
    net = rec.model
    loss, n = None, 0
    item_arr = np.asarray(items, dtype=np.int64)
    known_before = item_arr < np.array([q.n_known for q in queries])
    trainable = known_before & (np.arange(start, start + len(queries)) >= warmup)
    if trainable.any():
        if pool is None:
            cand = candidates(rec, store.n_items, item_arr, queries, ts[-1])
        else:  # each row ranks the items it described (see sampled_pool)
            cand = np.unique(np.concatenate([q.item_rows for q in queries]))
        batch = collate(queries, cand, features.item_dim, rec.n_neighbours)
        scores = net(batch).masked_fill(~batch.known.to(net.device), float("-inf"))
        target = torch.from_numpy(np.searchsorted(cand, item_arr)).to(net.device)
        rows = torch.from_numpy(trainable).to(net.device)
        loss = F.cross_entropy(scores[rows], target[rows])
        n = int(trainable.sum())
    net.update_state(np.asarray(users), item_arr, np.asarray(ts), torch.stack(msgs))
    return loss, n


def score_then_learn(
    rec: TGNRecommender, events: Sequence[Interaction], *, score_batch: int = 1, progress: bool = False
) -> np.ndarray:
    """Expected ranks of ``events`` (external ids), each scored before it is learned (:func:`ranks_then_learn`
    with the TGN: memory folded in after each scored batch)."""

    def learn(chunk: Sequence[Interaction]) -> None:
        for ev in chunk:
            rec.learn_event(ev)
        if score_batch > 1:
            rec.flush_memory()

    return ranks_then_learn(rec.store, rec.score_many, learn, events, score_batch=score_batch, progress=progress)


def ranks_then_learn(
    store,
    score_many: Callable[[list[int], list[float], int], np.ndarray],
    learn: Callable[[Sequence[Interaction]], None],
    events: Sequence[Interaction],
    *,
    score_batch: int = 1,
    progress: bool = False,
) -> np.ndarray:
    """Expected ranks of ``events`` (external ids) for any scorer over ``store``, each scored before
    ``learn`` applies it, queried at its served time (:func:`served_clock`).

    ``score_batch > 1`` scores that many events from the state before them, then learns them (cheaper,
    slightly stale); 1 is the exact per-event protocol. Ranking and ties follow
    :mod:`models.evaluation.metrics`: over the items known at the time, a never-seen item after all of them.
    """
    ranks: list[float] = []
    clock = served_clock(store)
    bar = tqdm(total=len(events), desc="test-then-learn", disable=not progress, unit="ev", mininterval=1.0)
    for a in range(0, len(events), score_batch):
        chunk = events[a : a + score_batch]
        n_known = store.n_items
        users = [store.user_index(ev.user_id) for ev in chunk]
        t_q = [clock.query_time(ev.user_id, float(ev.ts)) for ev in chunk]
        rows = score_many([-1 if u is None else u for u in users], t_q, n_known)
        for ev, row in zip(chunk, rows):
            i = store.item_index(ev.item_id)
            ranks.append(float(expected_rank(*rank_counts(row, n_known if i is None else i, n_known))))
        learn(chunk)
        for ev in chunk:
            clock.observe(ev.user_id, float(ev.ts))
        bar.update(len(chunk))
    bar.close()
    return np.asarray(ranks, dtype=np.float64)


def served_clock(store) -> ServedClock:
    """A :class:`ServedClock` over events about to be applied to ``store``: a user the store knows is first
    queried at their last event in it, as a worker would."""

    def last_time(user_id) -> float | None:
        u = store.user_index(user_id)
        if u is None:
            return None
        last = store.user_item_stats(u).last_ts
        return float(np.max(last)) if len(last) else None

    _, _, ts, _ = store.recent_arrays(1)
    return ServedClock(last_time, float(ts[-1]) if len(ts) else None)
