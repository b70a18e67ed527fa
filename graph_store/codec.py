"""On-disk layout of :class:`~graph_store.RocksGraphStore`: one-byte key prefixes and packed values.

Indices in keys are big-endian so a prefix scan returns them in index / sequence order; values are
little-endian ``struct`` records or array columns. Layout (``u4`` = 4-byte index, ``u8`` = 8-byte seq):

======================  ===============================================================
key                     value
======================  ===============================================================
``u`` u4                user id (UTF-8)
``i`` u4                item id (UTF-8)
``U`` u4                user node: degree q, then its neighbour list
``I`` u4                item node: count q, popularity d, popularity anchor d, neighbour list
``P`` u4 user u4 item   pair summary: count q, weight_sum d, last_ts d, first_ts d
``C`` u4                co-occurrence table: n I, next items q[n], counts q[n] (table order)
``E`` u4 user u4 item   empty: the pair was seen (exact edge set)
``d`` event id          u8 dedupe sequence number
``D`` u8                event id (oldest first, for forgetting beyond the window)
``R`` u8                ring event: user q, item q, ts d, weight d, then numeric attrs JSON
``W`` u4 part. topic    watermark q
``M`` name              ``Mstate``: counters; ``Mconfig``: the GraphConfig as JSON
======================  ===============================================================

>>> user_key(3)
b'U\\x00\\x00\\x00\\x03'
>>> decode_ring(encode_ring(1, 2, 3.5, 1.0, {"price": 9.5}))
(1, 2, 3.5, 1.0, {'price': 9.5})
"""
from __future__ import annotations

import json
import struct

import numpy as np

P_USER_ID = b"u"
P_ITEM_ID = b"i"
P_USER = b"U"
P_ITEM = b"I"
P_PAIR = b"P"
P_COOCCUR = b"C"
P_EDGE = b"E"
P_DEDUPE = b"d"
P_DEDUPE_SEQ = b"D"
P_RING = b"R"
P_WATERMARK = b"W"
K_STATE = b"Mstate"
K_CONFIG = b"Mconfig"

_U4 = struct.Struct(">I")
_U8 = struct.Struct(">Q")
USER_HEAD = struct.Struct("<q")
ITEM_HEAD = struct.Struct("<qdd")
PAIR = struct.Struct("<qddd")
RING = struct.Struct("<qqdd")
WATERMARK = struct.Struct("<q")
#: n_events, n_edges, dedupe seq, popularity anchor (NaN: none yet), format version
STATE = struct.Struct("<qqqdq")
FORMAT_VERSION = 1


def u4(index: int) -> bytes:
    return _U4.pack(index)


def u8(seq: int) -> bytes:
    return _U8.pack(seq)


def read_u4(buf: bytes, offset: int = 1) -> int:
    return _U4.unpack_from(buf, offset)[0]


def read_u8(buf: bytes, offset: int = 1) -> int:
    return _U8.unpack_from(buf, offset)[0]


def user_key(user: int) -> bytes:
    return P_USER + _U4.pack(user)


def item_key(item: int) -> bytes:
    return P_ITEM + _U4.pack(item)


def pair_key(user: int, item: int) -> bytes:
    return P_PAIR + _U4.pack(user) + _U4.pack(item)


def edge_key(user: int, item: int) -> bytes:
    return P_EDGE + _U4.pack(user) + _U4.pack(item)


def ring_key(seq: int) -> bytes:
    return P_RING + _U8.pack(seq)


def watermark_key(topic: str, partition: int) -> bytes:
    return P_WATERMARK + _U4.pack(partition) + topic.encode()


def decode_watermark_key(key: bytes) -> tuple[str, int]:
    return key[5:].decode(), read_u4(key)


def encode_ring(user: int, item: int, ts: float, weight: float, attrs: dict[str, float] | None) -> bytes:
    head = RING.pack(user, item, ts, weight)
    return head if attrs is None else head + json.dumps(attrs, separators=(",", ":")).encode()


def decode_ring(buf: bytes) -> tuple[int, int, float, float, dict[str, float] | None]:
    user, item, ts, weight = RING.unpack_from(buf)
    attrs = json.loads(buf[RING.size :]) if len(buf) > RING.size else None
    return user, item, ts, weight, attrs


def encode_cooccur(table: dict[int, int]) -> bytes:
    n = len(table)
    return (
        _U4.pack(n)
        + np.fromiter(table.keys(), dtype="<i8", count=n).tobytes()
        + np.fromiter(table.values(), dtype="<i8", count=n).tobytes()
    )


def decode_cooccur(buf: bytes) -> dict[int, int]:
    n = read_u4(buf, 0)
    nxt = np.frombuffer(buf, dtype="<i8", count=n, offset=4).tolist()
    cnt = np.frombuffer(buf, dtype="<i8", count=n, offset=4 + 8 * n).tolist()
    return dict(zip(nxt, cnt))
