"""Temporal embeddings of the query user: attention over their recent items, aware of the query time.

PyG's ``examples/tgn.py`` encodes each neighbour edge by ``last_update - t_edge``, which ignores *when*
the recommendation is asked for. Here every edge carries ``t_query - t_edge`` (log-scaled, then
:class:`~torch_geometric.nn.models.tgn.TimeEncoder`), so "edited a minute ago" and "edited last week"
attend differently.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn import TransformerConv
from torch_geometric.nn.models.tgn import TimeEncoder


class LogTimeEncoder(torch.nn.Module):
    """:class:`TimeEncoder` applied to ``log1p(dt)``: smooth over seconds-to-months time gaps.

    >>> enc = LogTimeEncoder(8)
    >>> enc(torch.tensor([0.0, 60.0, 86400.0])).shape
    torch.Size([3, 8])
    """

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.enc = TimeEncoder(out_channels)

    def reset_parameters(self) -> None:
        self.enc.reset_parameters()

    def forward(self, dt: Tensor) -> Tensor:
        return self.enc(torch.log1p(dt.clamp(min=0)).float())


class QueryTimeAttention(torch.nn.Module):
    """``z_u``: a :class:`TransformerConv` from the user's recent items to the user.

    Source features are the items' memories; the root (skip) path carries the user's own memory; each
    edge carries the encoded time from the event to the query and the event's raw message.

    Args:
        in_channels: memory size.
        out_channels: embedding size.
        msg_dim: raw message size (weight and numeric attributes).
        time_enc: the edge time encoder (injected, e.g. :class:`LogTimeEncoder`).
        heads: attention heads (``out_channels`` must be divisible by it).
        dropout: attention dropout.
    """

    def __init__(
        self, in_channels: int, out_channels: int, msg_dim: int, time_enc: LogTimeEncoder, heads: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if out_channels % heads:
            raise ValueError(f"out_channels={out_channels} not divisible by heads={heads}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.msg_dim = msg_dim
        self.heads = heads
        self.dropout = dropout
        self.time_enc = time_enc
        self.conv = TransformerConv(
            in_channels, out_channels // heads, heads=heads, dropout=dropout, edge_dim=msg_dim + time_enc.out_channels
        )

    def reset_parameters(self) -> None:
        self.time_enc.reset_parameters()
        self.conv.reset_parameters()

    def forward(self, x_user: Tensor, x_nbr: Tensor, dt: Tensor, msg: Tensor, mask: Tensor) -> Tensor:
        """``x_user`` (B, C) memories of the users; ``x_nbr`` (B, K, C), ``dt`` (B, K), ``msg`` (B, K, M) and
        ``mask`` (B, K) their recent items. Returns ``z`` (B, out_channels)."""
        B, K = mask.shape
        dst = torch.arange(B, device=mask.device).view(-1, 1).expand(B, K)[mask]
        src = torch.arange(int(mask.sum()), device=mask.device)
        edge_attr = torch.cat([self.time_enc(dt[mask]), msg[mask]], dim=-1)
        edge_index = torch.stack([src, dst])
        return self.conv((x_nbr[mask], x_user), edge_index, edge_attr)
