"""A node's bounded, time-sorted list of recent events, stored as compact ``array.array`` columns."""
from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_right

import numpy as np

from graph_store.base import Neighbours

_LITTLE = sys.byteorder == "little"
_HEADER = struct.Struct("<I")
_EMPTY_I8 = np.empty(0, dtype=np.int64)
_EMPTY_F8 = np.empty(0, dtype=np.float64)
_EMPTY_F4 = np.empty(0, dtype=np.float32)


def _le(col: array) -> bytes:
    """Little-endian bytes of an array column (the on-disk byte order)."""
    if _LITTLE:
        return col.tobytes()
    swapped = array(col.typecode, col)
    swapped.byteswap()
    return swapped.tobytes()


def _from_le(typecode: str, buf: bytes | memoryview) -> array:
    col = array(typecode)
    col.frombytes(buf)
    if not _LITTLE:
        col.byteswap()
    return col


class NeighbourList:
    """Events ``(index, ts, weight)`` of one node, ascending by ts, at most ``cap`` (oldest dropped).

    In-order events append; a late event is inserted at its place by ts (after equal ts, so apply order
    breaks ties). Reads copy the tail, so callers get arrays they own.

    >>> nl = NeighbourList()
    >>> for idx, t in [(1, 10.0), (2, 30.0), (3, 20.0)]:
    ...     nl.insert(idx, t, 1.0, cap=2)
    >>> nl.read(5).index.tolist(), nl.read(5).ts.tolist()
    ([2, 3], [30.0, 20.0])
    """

    __slots__ = ("index", "ts", "weight")

    def __init__(self) -> None:
        self.index = array("q")
        self.ts = array("d")
        self.weight = array("f")

    def __len__(self) -> int:
        return len(self.ts)

    def insert(self, index: int, t: float, w: float, cap: int) -> None:
        """Add one event, keeping ts order and at most ``cap`` events."""
        ts = self.ts
        if not ts or t >= ts[-1]:
            self.index.append(index)
            ts.append(t)
            self.weight.append(w)
        else:
            pos = bisect_right(ts, t)
            self.index.insert(pos, index)
            ts.insert(pos, t)
            self.weight.insert(pos, w)
        if len(ts) > cap:
            drop = len(ts) - cap
            del self.index[:drop]
            del ts[:drop]
            del self.weight[:drop]

    def last(self) -> tuple[int, float] | None:
        """``(index, ts)`` of the latest event, ``None`` if empty."""
        if not self.ts:
            return None
        return self.index[-1], self.ts[-1]

    def read(self, k: int) -> Neighbours:
        """Up to ``k`` latest events, most recent first, as fresh numpy arrays."""
        n = len(self.ts)
        m = k if k < n else n
        if m <= 0:
            return Neighbours(_EMPTY_I8.copy(), _EMPTY_F8.copy(), _EMPTY_F4.copy())
        start = n - m
        index, ts, weight = self.index[start:], self.ts[start:], self.weight[start:]
        index.reverse()
        ts.reverse()
        weight.reverse()
        return Neighbours(
            np.frombuffer(index, dtype=np.int64),
            np.frombuffer(ts, dtype=np.float64),
            np.frombuffer(weight, dtype=np.float32),
        )

    def encode(self) -> bytes:
        """Compact bytes: count, then the int64 / float64 / float32 columns (little-endian)."""
        return _HEADER.pack(len(self.ts)) + _le(self.index) + _le(self.ts) + _le(self.weight)

    @classmethod
    def decode(cls, buf: bytes | memoryview, cap: int | None = None) -> NeighbourList:
        """Inverse of :meth:`encode`; keeps the latest ``cap`` events when given."""
        view = memoryview(buf)
        (n,) = _HEADER.unpack_from(view)
        off = _HEADER.size
        out = cls()
        out.index = _from_le("q", view[off : off + 8 * n])
        off += 8 * n
        out.ts = _from_le("d", view[off : off + 8 * n])
        off += 8 * n
        out.weight = _from_le("f", view[off : off + 4 * n])
        if cap is not None and n > cap:
            for col in (out.index, out.ts, out.weight):
                del col[: n - cap]
        return out

    @staticmethod
    def encoded_size(buf: bytes | memoryview) -> int:
        """Bytes taken by an encoded list at the start of ``buf``."""
        (n,) = _HEADER.unpack_from(buf)
        return _HEADER.size + 20 * n
