"""TGN node memory for a stream whose users and items keep arriving.

PyG's :class:`~torch_geometric.nn.models.TGNMemory` has a fixed ``num_nodes``; a stream does not.
:class:`GrowableTGNMemory` adds :meth:`~GrowableTGNMemory.grow` and keeps its state (memory, last update)
out of ``state_dict()`` so weights and state can be saved and swapped separately (a hot swap replaces
weights and keeps memory). :class:`NodeIndex` maps dense user and item indices into the one node space
the memory uses, node 0 being a never-updated "nobody" node (zero memory) for unknown users / padding.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor
from torch_geometric.nn.models.tgn import TGNMemory


class NodeIndex:
    """Dense user / item indices -> node ids ``1, 2, ...`` in order of first appearance (0 = nobody).

    >>> idx = NodeIndex()
    >>> idx.users(np.array([0, 1])).tolist(), idx.items(np.array([0])).tolist(), idx.users(np.array([1])).tolist()
    ([1, 2], [3], [2])
    >>> idx.user_nodes(np.array([5, 0])).tolist(), idx.n_nodes
    ([0, 1], 4)
    """

    def __init__(self) -> None:
        self.reset_state()

    def reset_state(self) -> None:
        self._user = np.zeros(0, dtype=np.int64)
        self._item = np.zeros(0, dtype=np.int64)
        self.n_nodes = 1

    @staticmethod
    def _assign(table: np.ndarray, ids: np.ndarray, start: int) -> tuple[np.ndarray, int]:
        top = int(ids.max(initial=-1)) + 1
        if top > len(table):
            table = np.concatenate([table, np.zeros(max(top, 2 * len(table)) - len(table), dtype=np.int64)])
        for i in ids.tolist():  # first-appearance order, so repeated new ids get one node
            if table[i] == 0:
                table[i] = start
                start += 1
        return table, start

    def users(self, ids: np.ndarray) -> np.ndarray:
        """Node ids of users ``ids``, assigning new ones."""
        self._user, self.n_nodes = self._assign(self._user, np.asarray(ids, dtype=np.int64), self.n_nodes)
        return self._user[ids]

    def items(self, ids: np.ndarray) -> np.ndarray:
        """Node ids of items ``ids``, assigning new ones."""
        self._item, self.n_nodes = self._assign(self._item, np.asarray(ids, dtype=np.int64), self.n_nodes)
        return self._item[ids]

    @staticmethod
    def _lookup(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        ok = (ids >= 0) & (ids < len(table))
        out = np.zeros(ids.shape, dtype=np.int64)
        out[ok] = table[ids[ok]]
        return out

    def user_nodes(self, ids: np.ndarray) -> np.ndarray:
        """Node ids of users ``ids`` without assigning (0 for unknown or negative ids)."""
        return self._lookup(self._user, ids)

    def item_nodes(self, ids: np.ndarray) -> np.ndarray:
        """Node ids of items ``ids`` without assigning (0 for unknown or negative ids)."""
        return self._lookup(self._item, ids)

    def state_dict(self) -> dict[str, Tensor | int]:
        return {"user": torch.from_numpy(self._user.copy()), "item": torch.from_numpy(self._item.copy()),
                "n_nodes": self.n_nodes}

    def load_state_dict(self, state: dict) -> None:
        self._user = state["user"].numpy().copy()
        self._item = state["item"].numpy().copy()
        self.n_nodes = int(state["n_nodes"])


class GrowableTGNMemory(TGNMemory):
    """:class:`TGNMemory` whose node count can grow; memory buffers are state, not weights.

    Same constructor as PyG's (``num_nodes`` is the initial capacity); ``message_module`` and
    ``aggregator_module`` are injected as there (e.g. ``IdentityMessage``, ``LastAggregator``).
    """

    def __init__(
        self,
        num_nodes: int,
        raw_msg_dim: int,
        memory_dim: int,
        time_dim: int,
        message_module: Callable,
        aggregator_module: Callable,
    ) -> None:
        super().__init__(num_nodes, raw_msg_dim, memory_dim, time_dim, message_module, aggregator_module)
        for name in ("memory", "last_update", "_assoc"):  # state, not weights: out of state_dict()
            buf = getattr(self, name)
            delattr(self, name)
            self.register_buffer(name, buf, persistent=False)

    def grow(self, num_nodes: int) -> None:
        """Make room for node ids ``< num_nodes`` (capacity at least doubles, amortising the copies)."""
        if num_nodes <= self.num_nodes:
            return
        new = max(num_nodes, 2 * self.num_nodes)
        extra = new - self.num_nodes
        self.memory = torch.cat([self.memory.detach(), self.memory.new_zeros(extra, self.memory_dim)])
        self.last_update = torch.cat([self.last_update, self.last_update.new_zeros(extra)])
        self._assoc = torch.cat([self._assoc, self._assoc.new_zeros(extra)])
        i = self.memory.new_empty((0,), dtype=torch.long)
        msg = self.memory.new_empty((0, self.raw_msg_dim))
        for j in range(self.num_nodes, new):
            self.msg_s_store[j] = (i, i, i, msg)
            self.msg_d_store[j] = (i, i, i, msg)
        self.num_nodes = new

    def flush(self) -> None:
        """Fold pending messages into the memory and empty the message store.

        In training mode PyG keeps each node's latest messages pending (applied on the fly by ``forward``);
        they are applied here. In eval mode stored messages are already applied, so nothing is re-applied.
        Unlike PyG's ``train(False)``, nodes without messages are left alone (no ``GRU(0, memory)`` step),
        so a node that never had an event keeps a zero memory.
        """
        if self.training:
            pending = sorted({j for store in (self.msg_s_store, self.msg_d_store)
                              for j, entry in store.items() if entry[0].numel()})
            if pending:
                with torch.no_grad():
                    self._update_memory(torch.tensor(pending, dtype=torch.long, device=self.memory.device))
        self._reset_message_store()
        self.memory.detach_()

    def train(self, mode: bool = True) -> GrowableTGNMemory:
        """Switch mode; leaving training folds the pending messages in (see :meth:`flush`)."""
        if self.training and not mode:
            self.flush()
        torch.nn.Module.train(self, mode)
        return self

    def state(self) -> dict[str, Tensor]:
        """Memory and last-update times (after folding pending messages in), for checkpoints."""
        with torch.no_grad():
            self.flush()
        return {"memory": self.memory.detach().cpu().clone(), "last_update": self.last_update.cpu().clone()}

    def load_state(self, state: dict[str, Tensor]) -> None:
        n = int(state["memory"].size(0))
        self.grow(n)
        self.reset_state()
        self.memory[:n] = state["memory"].to(self.memory.device)
        self.last_update[:n] = state["last_update"].to(self.last_update.device)
