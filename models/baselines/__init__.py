"""Baseline recommenders every quality figure is reported beside (ARCHITECTURE.md, "Evaluation protocol").

Each is a :class:`models.base.Recommender` updated per event with vectorized numpy scoring.

>>> sorted(BASELINES)
['cooccur', 'edgebank', 'pop', 'recency_pop', 'river_mf']
"""
from __future__ import annotations

from models.base import Recommender
from models.baselines.cooccur import Cooccur
from models.baselines.edgebank import EdgeBank
from models.baselines.pop import Pop
from models.baselines.recency_pop import RecencyPop
from models.baselines.river_mf import RiverMF

#: Name (as on the command line) -> class.
BASELINES: dict[str, type[Recommender]] = {
    cls.name: cls for cls in (Pop, RecencyPop, EdgeBank, Cooccur, RiverMF)
}

__all__ = ["BASELINES", "Cooccur", "EdgeBank", "Pop", "RecencyPop", "RiverMF"]
