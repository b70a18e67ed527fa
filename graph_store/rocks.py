"""The durable graph store: :class:`~graph_store.core.GraphCore` plus a RocksDB (rocksdict) persistence layer.

Every ``apply`` writes the batch's changes -- node records, pair summaries, co-occurrence tables, new ids,
ring events, dedupe ids, edges, the source watermark and the counters -- in ONE ``WriteBatch``: after a
crash the database holds either all of a batch or none of it, and the stored watermark says which Kafka
offsets are already in. Writes go through the RocksDB write-ahead log, so a killed process (SIGKILL) loses
nothing that ``apply`` returned; ``sync=True`` also fsyncs each batch, surviving power loss too.

Everything the hot path reads lives in memory (rebuilt from the database on open, see
:mod:`graph_store.codec` for the layout); only the two large membership sets (dedupe ids, the exact edge
set) stay in the database and are probed by key, with bloom filters.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Iterator

from rocksdict import BlockBasedOptions, Options, Rdict, WriteBatch, WriteOptions

from graph_store import codec
from graph_store.base import GraphConfig
from graph_store.core import BatchDelta, GraphCore
from graph_store.neighbours import NeighbourList
from graph_store.sets import DedupeIndex, EdgeSet


class RocksDedupeIndex(DedupeIndex):
    """Dedupe ids kept in RocksDB (``d``/``D`` keys); the current batch's changes are staged in memory."""

    def __init__(self, db: Rdict, window: int, seq: int = 0) -> None:
        super().__init__(window, seq)
        self._db = db
        self._added: dict[str, int] = {}
        self._by_seq: dict[int, str] = {}
        self._forgotten: set[str] = set()
        self._dropped_seqs: list[int] = []

    def __contains__(self, event_id: str) -> bool:
        if event_id in self._added:
            return True
        if event_id in self._forgotten:
            return False
        return self._db.get(codec.P_DEDUPE + event_id.encode()) is not None

    def add(self, event_id: str) -> None:
        seq = self.seq
        self.seq += 1
        self._added[event_id] = seq
        self._by_seq[seq] = event_id
        self._forgotten.discard(event_id)
        old = seq - self.window
        if old < 0:
            return
        old_id = self._by_seq.pop(old, None)
        if old_id is not None:
            del self._added[old_id]
        else:
            raw = self._db.get(codec.P_DEDUPE_SEQ + codec.u8(old))
            old_id = None if raw is None else raw.decode()
        if old_id is not None:
            self._forgotten.add(old_id)
            self._dropped_seqs.append(old)

    def stage(self, wb: WriteBatch) -> None:
        """Write this batch's changes into ``wb``."""
        for event_id in self._forgotten:
            wb.delete(codec.P_DEDUPE + event_id.encode())
        for seq in self._dropped_seqs:
            wb.delete(codec.P_DEDUPE_SEQ + codec.u8(seq))
        for event_id, seq in self._added.items():
            wb.put(codec.P_DEDUPE + event_id.encode(), codec.u8(seq))
            wb.put(codec.P_DEDUPE_SEQ + codec.u8(seq), event_id.encode())

    def committed(self) -> None:
        self._added.clear()
        self._by_seq.clear()
        self._forgotten.clear()
        self._dropped_seqs.clear()


class RocksEdgeSet(EdgeSet):
    """The exact set of pairs seen, kept in RocksDB (``E`` keys); new pairs staged until commit."""

    def __init__(self, db: Rdict) -> None:
        super().__init__()
        self._db = db
        self._pending: set[bytes] = set()

    def __contains__(self, pair: tuple[int, int]) -> bool:
        key = codec.edge_key(*pair)
        return key in self._pending or self._db.get(key) is not None

    def add(self, user: int, item: int) -> None:
        self._pending.add(codec.edge_key(user, item))

    def stage(self, wb: WriteBatch) -> None:
        """Write this batch's new pairs into ``wb``."""
        for key in self._pending:
            wb.put(key, b"")

    def committed(self) -> None:
        self._pending.clear()


def _options() -> Options:
    opts = Options(raw_mode=True)
    opts.create_if_missing(True)
    table = BlockBasedOptions()
    table.set_bloom_filter(10, False)  # dedupe / edge probes are mostly misses
    opts.set_block_based_table_factory(table)
    return opts


class RocksGraphStore(GraphCore):
    """Graph store persisted in a RocksDB directory at ``path``; reopening restores everything.

    ``sync=True`` fsyncs every batch (power-loss safe, slower); the default survives process crashes.
    ``config.popularity_tau`` must match the one the store was created with; other caps may change
    between runs (they apply from the next write, lists are trimmed on load).

    >>> import tempfile
    >>> from graph_store.events import Interaction
    >>> tmp = tempfile.TemporaryDirectory()
    >>> with RocksGraphStore(tmp.name) as store:
    ...     _ = store.apply([Interaction("u1", "a", 1.0), Interaction("u1", "b", 2.0)], source=("t", 0), offsets=[0, 1])
    >>> with RocksGraphStore(tmp.name) as store:
    ...     store.counts(), store.watermark("t", 0), store.item_ids()
    (GraphCounts(users=1, items=2, edges=2, events=2), 1, ['a', 'b'])
    >>> tmp.cleanup()
    """

    def __init__(self, path: str | Path, config: GraphConfig = GraphConfig(), *, sync: bool = False) -> None:
        self.path = Path(path)
        self.sync = sync
        self._db = Rdict(str(self.path), _options())
        self._write_opts = WriteOptions()
        self._write_opts.sync = sync
        self._closed = False
        try:
            super().__init__(config)
            self._load()
        except BaseException:
            self._db.close()
            raise

    # ------------------------------------------------------------ parts
    def _make_dedupe(self) -> RocksDedupeIndex:
        return RocksDedupeIndex(self._db, self.config.dedupe_window)

    def _make_edges(self) -> RocksEdgeSet:
        return RocksEdgeSet(self._db)

    # ------------------------------------------------------------ persistence
    def _commit(self, delta: BatchDelta) -> None:
        if self._closed:
            raise RuntimeError("store is closed")
        wb = WriteBatch(raw_mode=True)
        for u in range(delta.n_users_before, self.n_users):
            wb.put(codec.P_USER_ID + codec.u4(u), self._users.key(u).encode())
        for i in range(delta.n_items_before, self.n_items):
            wb.put(codec.P_ITEM_ID + codec.u4(i), self._items.key(i).encode())
        for u in delta.users:
            wb.put(codec.user_key(u), codec.USER_HEAD.pack(self._user_degree[u]) + self._user_nbrs[u].encode())
        anchor = self._pop_anchor
        for i in delta.items:
            head = codec.ITEM_HEAD.pack(int(self._item_count[i]), float(self._pop[i]), anchor)
            wb.put(codec.item_key(i), head + self._item_nbrs[i].encode())
        for i in delta.cooccur:
            wb.put(codec.P_COOCCUR + codec.u4(i), codec.encode_cooccur(self._cooccur[i]))
        for u, i in delta.pairs:
            st = self._user_pairs[u].get(i)
            if st is None:
                wb.delete(codec.pair_key(u, i))
            else:
                wb.put(codec.pair_key(u, i), codec.PAIR.pack(*st))
        window = self.config.window_size
        for seq in range(delta.events_before, self._n_events):
            slot = seq % window
            wb.put(
                codec.ring_key(seq),
                codec.encode_ring(
                    int(self._ring_user[slot]),
                    int(self._ring_item[slot]),
                    float(self._ring_ts[slot]),
                    float(self._ring_w[slot]),
                    self._ring_attrs[slot],
                ),
            )
            if seq >= window:
                wb.delete(codec.ring_key(seq - window))
        for topic, partition in delta.watermarks:
            wb.put(
                codec.watermark_key(topic, partition),
                codec.WATERMARK.pack(self._watermarks[(topic, partition)]),
            )
        self._edges.stage(wb)
        self._dedupe.stage(wb)
        wb.put(codec.K_STATE, self._state_record())
        self._db.write(wb, self._write_opts)
        self._edges.committed()
        self._dedupe.committed()

    def _state_record(self) -> bytes:
        anchor = math.nan if self._pop_anchor is None else self._pop_anchor
        return codec.STATE.pack(self._n_events, self._n_edges, self._dedupe.seq, anchor, codec.FORMAT_VERSION)

    def _scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        it = self._db.iter()
        try:
            it.seek(prefix)
            while it.valid():
                key = it.key()
                if not key.startswith(prefix):
                    break
                yield key, it.value()
                it.next()
        finally:
            del it

    def _load(self) -> None:
        """Rebuild the in-memory state from the database (a fresh directory: write the config)."""
        cfg = self.config
        raw_cfg = self._db.get(codec.K_CONFIG)
        if raw_cfg is not None:
            stored_tau = json.loads(raw_cfg)["popularity_tau"]
            if stored_tau != cfg.popularity_tau:
                raise ValueError(
                    f"store at {self.path} was built with popularity_tau={stored_tau}, got {cfg.popularity_tau}"
                )
        raw_state = self._db.get(codec.K_STATE)
        fixes = WriteBatch(raw_mode=True)
        fixes.put(codec.K_CONFIG, json.dumps(dataclasses.asdict(cfg)).encode())
        if raw_state is not None:
            n_events, n_edges, dedupe_seq, anchor, version = codec.STATE.unpack(raw_state)
            if version != codec.FORMAT_VERSION:
                raise ValueError(f"unsupported graph store format {version} at {self.path}")
            self._n_events, self._n_edges = n_events, n_edges
            self._dedupe.seq = dedupe_seq
            self._pop_anchor = None if math.isnan(anchor) else anchor

        for prefix, add in ((codec.P_USER_ID, self._add_user), (codec.P_ITEM_ID, self._add_item)):
            for key, value in self._scan(prefix):
                index, _ = add(value.decode())
                if index != codec.read_u4(key):
                    raise ValueError(f"corrupt id map in {self.path}: gap before {key!r}")

        cap = cfg.max_neighbours
        for key, value in self._scan(codec.P_USER):
            u = codec.read_u4(key)
            (self._user_degree[u],) = codec.USER_HEAD.unpack_from(value)
            self._user_nbrs[u] = NeighbourList.decode(memoryview(value)[codec.USER_HEAD.size :], cap)
        for key, value in self._scan(codec.P_ITEM):
            i = codec.read_u4(key)
            count, pop, item_anchor = codec.ITEM_HEAD.unpack_from(value)
            self._item_count[i] = count
            # re-express each stored value relative to the current anchor
            self._pop[i] = pop * math.exp((item_anchor - self._pop_anchor) / self._tau)
            self._item_nbrs[i] = NeighbourList.decode(memoryview(value)[codec.ITEM_HEAD.size :], cap)
        for key, value in self._scan(codec.P_PAIR):
            u, i = codec.read_u4(key), codec.read_u4(key, 5)
            count, wsum, last_ts, first_ts = codec.PAIR.unpack(value)
            self._user_pairs[u][i] = [count, wsum, last_ts, first_ts]
        for pairs in self._user_pairs:
            while len(pairs) > cfg.max_user_items:
                del pairs[min(pairs, key=lambda j: (pairs[j][2], j))]
        for key, value in self._scan(codec.P_COOCCUR):
            table = codec.decode_cooccur(value)
            while len(table) > cfg.max_cooccur:
                del table[min(table, key=table.__getitem__)]
            self._cooccur[codec.read_u4(key)] = table

        first_kept = max(0, self._n_events - cfg.window_size)
        for key, value in self._scan(codec.P_RING):
            seq = codec.read_u8(key)
            if seq < first_kept:  # window shrank since the last run
                fixes.delete(key)
                continue
            self._ring_put(seq, *codec.decode_ring(value))

        first_remembered = self._dedupe.seq - cfg.dedupe_window
        for key, value in self._scan(codec.P_DEDUPE_SEQ):
            if codec.read_u8(key) >= first_remembered:
                break
            fixes.delete(key)
            fixes.delete(codec.P_DEDUPE + value)

        for key, value in self._scan(codec.P_WATERMARK):
            (self._watermarks[codec.decode_watermark_key(key)],) = codec.WATERMARK.unpack(value)
        self._db.write(fixes, self._write_opts)

    # ------------------------------------------------------------ lifecycle
    def flush(self) -> None:
        """Flush the memtable to SST files and sync the write-ahead log."""
        if not self._closed:
            self._db.flush()
            self._db.flush_wal(True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()

    def __repr__(self) -> str:
        return f"RocksGraphStore({str(self.path)!r}, events={self._n_events})"
