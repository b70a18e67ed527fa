"""The learned scorer: ``score(u, i, t) = prior + item term + pair-history term + gate * <z_u, z_i>``.

* the **prior** is fixed: the user's past items first, most recent first, then popularity -- so an
  untrained model already behaves like ``recency_pop`` and training learns corrections to it;
* the **item term** runs over every candidate (popularity, transitions from the last item, attributes),
  conditioned on the user context, so it can rank new items;
* the **pair term** runs only where the user has history with the item (a sparse set, cheap); its
  learned offset against the item term is how much this user is expected to repeat rather than explore;
* the **embedding term** is the inner product of the TGN user embedding and the item embedding, scaled by
  a learned gate that starts at 0 (an untrained memory adds no noise; the term grows only if it helps).

The learned terms' output layers start at zero, so before training the score is exactly the prior.
"""
from __future__ import annotations

import torch
from torch import Tensor

from models.tgn.features import CTX_DIM, PAIR_DIM, QueryBatch

#: Column of ``QueryBatch.pair_x`` holding ``1 / (1 + recency rank)`` (see ``FeatureBuilder.query``).
RECENCY_COLUMN = 2


def mlp(in_channels: int, hidden: int, layers: int = 2) -> torch.nn.Sequential:
    """``layers`` Linear+ReLU blocks of width ``hidden`` and a final Linear to one score (zero-initialised)."""
    mods: list[torch.nn.Module] = []
    width = in_channels
    for _ in range(layers):
        mods += [torch.nn.Linear(width, hidden), torch.nn.ReLU()]
        width = hidden
    mods.append(torch.nn.Linear(width, 1))
    _reset_mlp(mods)
    return torch.nn.Sequential(*mods)


def _reset_mlp(mods) -> None:
    for m in mods:
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    torch.nn.init.zeros_(mods[-1].weight)
    torch.nn.init.zeros_(mods[-1].bias)


class ItemTerm(torch.nn.Module):
    """Scores every candidate from its item features and the user context: ``(B, N)``."""

    def __init__(self, item_dim: int, hidden: int = 32, layers: int = 1) -> None:
        super().__init__()
        self.item_dim = item_dim
        self.hidden = hidden
        self.layers = layers
        self.net = mlp(item_dim + CTX_DIM, hidden, layers)

    def reset_parameters(self) -> None:
        _reset_mlp(list(self.net))

    def forward(self, item_x: Tensor, ctx: Tensor) -> Tensor:
        B, N, _ = item_x.shape
        x = torch.cat([item_x, ctx[:, None, :].expand(B, N, ctx.size(-1))], dim=-1)
        return self.net(x).squeeze(-1)


class PairTerm(torch.nn.Module):
    """Scores the (user, item) pairs with history from pair, item and user-context features: ``(P,)``."""

    def __init__(self, item_dim: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.item_dim = item_dim
        self.hidden = hidden
        self.layers = layers
        self.net = mlp(PAIR_DIM + item_dim + CTX_DIM, hidden, layers)

    def reset_parameters(self) -> None:
        _reset_mlp(list(self.net))

    def forward(self, pair_x: Tensor, item_x: Tensor, ctx: Tensor) -> Tensor:
        return self.net(torch.cat([pair_x, item_x, ctx], dim=-1)).squeeze(-1)


class LinkScorer(torch.nn.Module):
    """Combines the prior, :class:`ItemTerm`, :class:`PairTerm` and the gated embedding inner product.

    Args:
        item_term, pair_term: the learned terms.
        n_pop: how many leading ``item_x`` columns are log popularities (the prior's tie-breaker).
        use_embedding: ``False`` drops the ``<z_u, z_i>`` term (a memoryless ablation of the same scorer).
        prior_weight: scale of the fixed prior (0 disables it).
    """

    def __init__(
        self, item_term: ItemTerm, pair_term: PairTerm, n_pop: int = 1, use_embedding: bool = True,
        prior_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.item_term = item_term
        self.pair_term = pair_term
        self.n_pop = n_pop
        self.use_embedding = use_embedding
        self.prior_weight = prior_weight
        self.embedding_gate = torch.nn.Parameter(torch.zeros(1))

    def reset_parameters(self) -> None:
        self.item_term.reset_parameters()
        self.pair_term.reset_parameters()
        torch.nn.init.zeros_(self.embedding_gate)

    def prior(self, batch: QueryBatch) -> Tensor:
        """``recency_pop`` as a score: past items in ``[1, 2]`` (most recent highest), others by popularity
        squashed into ``[0, 0.5)``."""
        past = batch.pair_mask.to(batch.pair_x.dtype) * (1.0 + batch.pair_x[..., RECENCY_COLUMN])
        pop = batch.item_x[..., : self.n_pop].mean(-1)
        return self.prior_weight * (past + 0.5 * torch.tanh(pop))

    def forward(self, batch: QueryBatch, z_user: Tensor | None = None, z_item: Tensor | None = None) -> Tensor:
        score = self.prior(batch) + self.item_term(batch.item_x, batch.ctx)
        b, n = batch.pair_mask.nonzero(as_tuple=True)
        if b.numel():
            pair = self.pair_term(batch.pair_x[b, n], batch.item_x[b, n], batch.ctx[b])
            score = score.index_put((b, n), pair, accumulate=True)
        if self.use_embedding and z_user is not None and z_item is not None:
            score = score + self.embedding_gate * (z_user @ z_item.t())
        return score
