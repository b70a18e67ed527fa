"""Dense id map: external string ids <-> indices ``0, 1, 2, ...`` in order of first appearance."""
from __future__ import annotations

from typing import Iterable


class IdMap:
    """Append-only bijection between string keys and dense indices; an index never changes.

    >>> ids = IdMap()
    >>> ids.add("u7"), ids.add("u3"), ids.add("u7")
    ((0, True), (1, True), (0, False))
    >>> ids.index("u3"), ids.index("nope"), ids.key(0), len(ids)
    (1, None, 'u7', 2)
    """

    __slots__ = ("_index", "_keys")

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        for key in keys:
            self.add(key)

    def add(self, key: str) -> tuple[int, bool]:
        """Index of ``key`` and whether it was new (then it gets the next index)."""
        idx = self._index.get(key)
        if idx is not None:
            return idx, False
        idx = len(self._keys)
        self._index[key] = idx
        self._keys.append(key)
        return idx, True

    def index(self, key: str) -> int | None:
        """Index of ``key``, ``None`` if never added."""
        return self._index.get(key)

    def key(self, index: int) -> str:
        """Key at ``index``; ``IndexError`` for an unknown (or negative) index."""
        if index < 0:
            raise IndexError(f"no id at index {index}")
        return self._keys[index]

    def keys(self) -> list[str]:
        """All keys in index order (a copy)."""
        return list(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._index
