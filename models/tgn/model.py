"""The TGN link predictor: node memory + query-time attention + the learned scorer, parts injected.

:class:`TGNModel` is a plain ``torch.nn.Module`` in the PyG style: it scores a :class:`QueryBatch`
(``forward``) from the memory as it stands, and only afterwards is told about the events
(``update_state``). Lifecycle: ``reset_parameters`` (weights), ``reset_state`` (memory, node ids),
``detach`` (cut the memory's autograd history between batches). :func:`build_model` wires the standard
parts from sizes.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import Tensor
from torch_geometric.nn.models.tgn import IdentityMessage, LastAggregator

from models.tgn.embedding import LogTimeEncoder, QueryTimeAttention
from models.tgn.features import QueryBatch
from models.tgn.memory import GrowableTGNMemory, NodeIndex
from models.tgn.predictor import ItemTerm, LinkScorer, PairTerm


def event_messages(weight: Tensor, attrs: Tensor | None = None) -> Tensor:
    """Raw TGN messages of events: ``log1p(weight)`` and (signed-log) numeric attributes, ``(E, 1 + A)``.

    >>> event_messages(torch.tensor([1.0, 3.0])).shape
    torch.Size([2, 1])
    """
    w = torch.log1p(weight.clamp(min=0).float()).view(-1, 1)
    if attrs is None or attrs.numel() == 0:
        return w
    a = attrs.float()
    return torch.cat([w, torch.sign(a) * torch.log1p(a.abs())], dim=-1)


class TGNModel(torch.nn.Module):
    """Scores candidates for query users from TGN memory, attention embeddings and temporal features.

    Args:
        memory: the node memory (users and items share one node space, see :class:`NodeIndex`).
        embedding: user embedding from the user's recent items at the query time.
        item_proj: item embedding from the item's memory (``memory_dim -> embedding_dim``).
        scorer: combines features and embeddings into scores.
    """

    def __init__(
        self, memory: GrowableTGNMemory, embedding: QueryTimeAttention, item_proj: torch.nn.Module, scorer: LinkScorer
    ) -> None:
        super().__init__()
        self.memory = memory
        self.embedding = embedding
        self.item_proj = item_proj
        self.scorer = scorer
        self.nodes = NodeIndex()

    @property
    def device(self) -> torch.device:
        return self.memory.device

    @property
    def msg_dim(self) -> int:
        return self.memory.raw_msg_dim

    def reset_parameters(self) -> None:
        self.memory.reset_parameters()
        self.embedding.reset_parameters()
        if hasattr(self.item_proj, "reset_parameters"):
            self.item_proj.reset_parameters()
        self.scorer.reset_parameters()

    def reset_state(self) -> None:
        """Forget every event: zero memory, no node ids."""
        self.memory.reset_state()
        self.nodes.reset_state()

    def detach(self) -> None:
        self.memory.detach()

    def forward(self, batch: QueryBatch) -> Tensor:
        """Scores ``(B, N)`` of the batch's candidates (unknown candidates are not masked here)."""
        dev = self.device
        user_nodes = torch.from_numpy(self.nodes.user_nodes(batch.user.cpu().numpy()))
        nbr_nodes = torch.from_numpy(self.nodes.item_nodes(batch.nbr_item.cpu().numpy()))
        cand_nodes = torch.from_numpy(self.nodes.item_nodes(batch.cand.cpu().numpy()))
        self.memory.grow(self.nodes.n_nodes)
        n_id = torch.cat([user_nodes, nbr_nodes.flatten(), cand_nodes]).unique().to(dev)
        mem, _ = self.memory(n_id)
        mem = mem * (n_id != 0).unsqueeze(-1)  # node 0 = unknown / padding: zero memory in both modes

        def row(nodes: Tensor) -> Tensor:  # positions in n_id (sorted by unique())
            return torch.searchsorted(n_id, nodes.to(dev))

        mask = batch.nbr_item.to(dev) >= 0
        w = batch.nbr_w.to(dev)
        z_user = self.embedding(
            mem[row(user_nodes)],
            mem[row(nbr_nodes.flatten())].view(*nbr_nodes.shape, -1),
            batch.nbr_dt.to(dev),
            torch.log1p(w.clamp(min=0)).unsqueeze(-1),
            mask,
        )
        z_item = self.item_proj(mem[row(cand_nodes)])
        return self.scorer(batch.to(dev), z_user, z_item)

    def update_state(self, user: np.ndarray, item: np.ndarray, t: np.ndarray, msg: Tensor) -> None:
        """Fold events (dense user / item indices, times, raw messages) into the memory."""
        src = torch.from_numpy(self.nodes.users(np.asarray(user, dtype=np.int64)))
        dst = torch.from_numpy(self.nodes.items(np.asarray(item, dtype=np.int64)))
        self.memory.grow(self.nodes.n_nodes)
        dev = self.device
        tt = torch.from_numpy(np.floor(np.asarray(t, dtype=np.float64)).astype(np.int64))
        self.memory.update_state(src.to(dev), dst.to(dev), tt.to(dev), msg.to(dev))

    # -------------------------------------------------------------- weights vs state
    def weights(self) -> dict[str, Tensor]:
        """Learned parameters only (memory contents are state: see :meth:`state`)."""
        return {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}

    def load_weights(self, weights: Mapping[str, Tensor]) -> None:
        self.load_state_dict(dict(weights))

    def state(self) -> dict:
        """Memory, last-update times and node ids (what a hot swap keeps)."""
        return {"memory": self.memory.state(), "nodes": self.nodes.state_dict()}

    def load_state(self, state: Mapping) -> None:
        self.nodes.load_state_dict(state["nodes"])
        self.memory.load_state(state["memory"])


def build_model(
    item_dim: int,
    *,
    msg_dim: int = 1,
    memory_dim: int = 100,
    time_dim: int = 100,
    embedding_dim: int = 100,
    heads: int = 2,
    dropout: float = 0.1,
    hidden: int = 64,
    item_hidden: int = 32,
    use_embedding: bool = True,
    n_pop: int = 1,
    prior_weight: float = 1.0,
    device: torch.device | str = "cpu",
) -> TGNModel:
    """The standard wiring: PyG memory (``IdentityMessage``, ``LastAggregator``), query-time attention,
    a linear item projection and the three-term scorer."""
    memory = GrowableTGNMemory(
        16, msg_dim, memory_dim, time_dim,
        message_module=IdentityMessage(msg_dim, memory_dim, time_dim), aggregator_module=LastAggregator(),
    )
    embedding = QueryTimeAttention(memory_dim, embedding_dim, 1, LogTimeEncoder(time_dim), heads=heads, dropout=dropout)
    scorer = LinkScorer(ItemTerm(item_dim, item_hidden), PairTerm(item_dim, hidden), n_pop=n_pop,
                        use_embedding=use_embedding, prior_weight=prior_weight)
    model = TGNModel(memory, embedding, torch.nn.Linear(memory_dim, embedding_dim), scorer)
    return model.to(device)

