"""The graph store interface: one ABC, its bounding policy and the small records its reads return.

Two backends implement it (:class:`graph_store.MemoryGraphStore`, :class:`graph_store.RocksGraphStore`);
both share the logic in :mod:`graph_store.core`, so one contract test suite runs over both.

Users and items are dense integer indices assigned in order of first appearance; they never change, so
embedding tables can be indexed by them.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import ContextManager, Sequence

import numpy as np

from graph_store.events import Interaction


@dataclass(frozen=True)
class GraphConfig:
    """Bounding policy of the graph store: every per-node structure has a fixed cap.

    - ``max_neighbours``: most recent events kept per node (user or item) for neighbour sampling;
      the oldest by event time is dropped first.
    - ``max_user_items``: per-user (user, item) summaries kept; when a new item would exceed the cap, the
      summary with the smallest ``last_ts`` (ties: lower item index) is evicted. Degrees, edge counts and
      ``is_repeat_pair`` stay exact regardless (they do not depend on the summaries).
    - ``max_cooccur``: next-item entries kept per item in the co-occurrence table; when a new next item
      arrives at a full table, the entry with the lowest count is evicted (ties: the least recently
      incremented), then the new one enters with count 1.
    - ``popularity_tau``: decay scale in seconds of item popularity, ``sum w * exp(-(t - t_e) / tau)``.
      Fixed for the life of a persisted store (stored values depend on it).
    - ``window_size``: size of the ring of recent events kept for periodic fine-tuning.
    - ``dedupe_window``: number of most recent ``event_id``s remembered for dedupe; oldest forgotten first.

    >>> GraphConfig(max_neighbours=10).max_neighbours
    10
    """

    max_neighbours: int = 200
    max_user_items: int = 500
    max_cooccur: int = 100
    popularity_tau: float = 86400.0
    window_size: int = 200_000
    dedupe_window: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("max_neighbours", "max_user_items", "max_cooccur", "window_size", "dedupe_window"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"GraphConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.popularity_tau > 0:
            raise ValueError(f"GraphConfig.popularity_tau must be > 0, got {self.popularity_tau!r}")


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying one event did: its dense indices and whether user, item and pair were new."""

    user: int
    item: int
    is_new_user: bool
    is_new_item: bool
    is_repeat_pair: bool


@dataclass(frozen=True, slots=True)
class Neighbours:
    """A node's most recent neighbours, most recent first.

    ``index`` holds item indices for a user, user indices for an item (int64); ``ts`` float64 event times;
    ``weight`` float32 event weights.
    """

    index: np.ndarray
    ts: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.index)


@dataclass(frozen=True, slots=True)
class PairStats:
    """A user's per-item summaries (the pair's recency / frequency features), most recent ``last_ts`` first.

    Arrays of equal length: ``item`` int64, ``count`` int64 (events of the pair), ``weight_sum`` float64,
    ``last_ts`` and ``first_ts`` float64.
    """

    item: np.ndarray
    count: np.ndarray
    weight_sum: np.ndarray
    last_ts: np.ndarray
    first_ts: np.ndarray

    def __len__(self) -> int:
        return len(self.item)


@dataclass(frozen=True, slots=True)
class GraphCounts:
    """Sizes of the graph: nodes, distinct (user, item) pairs ever seen, events applied."""

    users: int
    items: int
    edges: int
    events: int


class GraphStore(ABC):
    """Temporal user-item graph: dense id maps, bounded recent neighbours, counters and a recent-events ring.

    Single writer: ``apply`` and reads must not run concurrently from several threads.
    """

    config: GraphConfig

    # ---------------------------------------------------------------- ids
    @property
    @abstractmethod
    def n_users(self) -> int:
        """Number of users seen (dense indices are ``0..n_users-1``)."""

    @property
    @abstractmethod
    def n_items(self) -> int:
        """Number of items seen (dense indices are ``0..n_items-1``)."""

    @abstractmethod
    def user_index(self, user_id: str) -> int | None:
        """Dense index of ``user_id``, or ``None`` if never seen."""

    @abstractmethod
    def item_index(self, item_id: str) -> int | None:
        """Dense index of ``item_id``, or ``None`` if never seen."""

    @abstractmethod
    def user_id(self, index: int) -> str:
        """External id of user ``index`` (``IndexError`` if unknown)."""

    @abstractmethod
    def item_id(self, index: int) -> str:
        """External id of item ``index`` (``IndexError`` if unknown)."""

    @abstractmethod
    def item_ids(self) -> list[str]:
        """All item ids in dense order."""

    # ---------------------------------------------------------------- writes
    @abstractmethod
    def apply(
        self,
        events: Sequence[Interaction],
        *,
        source: tuple[str, int] | None = None,
        offsets: Sequence[int] | None = None,
    ) -> list[Applied | None]:
        """Apply ``events`` in order as one atomic batch; returns an ``Applied`` or ``None`` (skipped) each.

        An event is skipped when its ``event_id`` was seen within ``dedupe_window``, or, when ``source``
        ``(topic, partition)`` and per-event ``offsets`` are given, when its offset is ``<=`` the
        partition's watermark (running: an offset repeated within the batch is skipped too). Skipped
        events leave no trace. The batch's changes and the new watermark (the highest offset seen) are
        persisted together, so after a crash either all of a batch is in or none of it. A malformed batch
        (empty ids, non-finite ts or weight, offsets of the wrong length) raises ``ValueError`` before
        anything changes. Late events (ts before a node's latest) are applied at their place in time.
        """

    def add(self, event: Interaction) -> Applied | None:
        """Apply one event (``apply([event])[0]``)."""
        return self.apply([event])[0]

    @abstractmethod
    def transaction(self) -> ContextManager["GraphStore"]:
        """A block whose applies form one atomic write (see :meth:`GraphCore.transaction`)."""

    @abstractmethod
    def watermark(self, topic: str, partition: int) -> int:
        """Highest source offset applied for ``(topic, partition)``, ``-1`` when none."""

    # ---------------------------------------------------------------- reads
    @abstractmethod
    def user_neighbours(self, user: int, k: int) -> Neighbours:
        """Up to ``k`` most recent (item, ts, weight) events of ``user``, most recent first."""

    @abstractmethod
    def item_neighbours(self, item: int, k: int) -> Neighbours:
        """Up to ``k`` most recent (user, ts, weight) events of ``item``, most recent first."""

    @abstractmethod
    def degree_user(self, user: int) -> int:
        """Total events of ``user`` (not capped)."""

    @abstractmethod
    def degree_item(self, item: int) -> int:
        """Total events of ``item`` (not capped)."""

    @abstractmethod
    def last_item(self, user: int) -> int | None:
        """Item of the user's latest event by event time (ties: the later applied), ``None`` if none."""

    @abstractmethod
    def user_item_stats(self, user: int) -> PairStats:
        """The user's bounded per-item summaries, most recent first."""

    @abstractmethod
    def pair_stats(self, user: int, item: int) -> tuple[int, float, float, float] | None:
        """``(count, weight_sum, last_ts, first_ts)`` of one pair, ``None`` if not in the user's summaries."""

    @abstractmethod
    def item_popularity(self, t: float) -> np.ndarray:
        """Float64 array of length ``n_items``: ``sum w * exp(-(t - t_e) / tau)`` over all events."""

    @abstractmethod
    def item_counts(self) -> np.ndarray:
        """Int64 array of length ``n_items``: raw event count per item."""

    @abstractmethod
    def cooccurrence(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Next-item indices and transition counts out of ``item``, highest count first (ties: lower index).

        A transition is a user's latest item (by event time) -> the item of that user's next event. Repeats
        of the same item (self-transitions) and late events (earlier than the user's latest) add none: the
        former are the user's own history, the latter would split a transition already counted.
        Bounded by ``max_cooccur`` per item (see :class:`GraphConfig`).
        """

    @abstractmethod
    def recent_events(self, limit: int | None = None) -> list[tuple[int, int, float, float]]:
        """The last ``limit`` (default: all kept) ``(user, item, ts, weight)`` events in apply order."""

    @abstractmethod
    def recent_arrays(self, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Same events as :meth:`recent_events` as arrays ``(user, item, ts, weight)`` (int64, int64, f64, f64)."""

    @abstractmethod
    def recent_event_attrs(self, limit: int | None = None) -> list[dict[str, float] | None]:
        """Numeric attributes (floats; strings dropped) of the same events, ``None`` where an event had none."""

    @abstractmethod
    def recent_events_since(self, ts: float) -> list[tuple[int, int, float, float]]:
        """Kept events with event time ``>= ts``, in apply order."""

    @abstractmethod
    def counts(self) -> GraphCounts:
        """Users, items, distinct pairs and events."""

    # ---------------------------------------------------------------- lifecycle
    def flush(self) -> None:
        """Push buffered state to durable storage (no-op in memory)."""

    def close(self) -> None:
        """Release resources; the store is unusable afterwards."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
