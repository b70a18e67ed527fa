"""The two unbounded-ish membership sets of the store, as swappable parts.

- :class:`DedupeIndex`: the last ``window`` event ids, oldest forgotten first.
- :class:`EdgeSet`: every (user, item) pair ever seen (exact ``is_repeat_pair`` and edge counts).

The in-memory versions here serve :class:`~graph_store.MemoryGraphStore`; the RocksDB backend swaps in
versions that keep these sets in the database (they can be far larger than RAM wants), see
:mod:`graph_store.rocks`.
"""
from __future__ import annotations

from collections import OrderedDict


class DedupeIndex:
    """Remembers the last ``window`` event ids added.

    >>> d = DedupeIndex(window=2)
    >>> for eid in ["a", "b", "c"]:
    ...     d.add(eid)
    >>> "a" in d, "b" in d, "c" in d, d.seq
    (False, True, True, 3)
    """

    def __init__(self, window: int, seq: int = 0) -> None:
        self.window = window
        #: Number of ids ever added (the next id's sequence number).
        self.seq = seq
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        """Remember ``event_id`` (not already present), forgetting the oldest beyond the window."""
        self._ids[event_id] = None
        self.seq += 1
        while len(self._ids) > self.window:
            self._ids.popitem(last=False)


class EdgeSet:
    """Distinct (user, item) pairs ever seen.

    >>> e = EdgeSet()
    >>> e.add(1, 2); (1, 2) in e, (2, 1) in e
    (True, False)
    """

    def __init__(self) -> None:
        self._pairs: set[int] = set()

    def __contains__(self, pair: tuple[int, int]) -> bool:
        return (pair[0] << 32 | pair[1]) in self._pairs

    def add(self, user: int, item: int) -> None:
        """Record a new pair (the caller checked it is not present)."""
        self._pairs.add(user << 32 | item)
