"""Recommenders (baselines, the serving heuristic, the TGN) and their evaluation. No Kafka or Faust."""
from models.base import Recommender, top_k

__all__ = ["Recommender", "top_k"]
