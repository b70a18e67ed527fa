"""The temporal graph network recommender (PyG TGN memory + query-time attention + temporal features).

Pure torch / PyG: no Kafka or Faust. Small modules, parts injected:
:mod:`~models.tgn.features` (per-query temporal features), :mod:`~models.tgn.memory` (growable TGN memory),
:mod:`~models.tgn.embedding` (query-time attention), :mod:`~models.tgn.predictor` (the scorer),
:mod:`~models.tgn.model` (wiring), :mod:`~models.tgn.recommender` (the ``tgn`` Recommender),
:mod:`~models.tgn.training`, :mod:`~models.tgn.finetune`, :mod:`~models.tgn.checkpoint`, :mod:`~models.tgn.drift`.
"""
from models.tgn.checkpoint import Checkpoint, load_checkpoint, new_version, save_checkpoint
from models.tgn.drift import DriftMonitor
from models.tgn.finetune import FinetuneResult, finetune
from models.tgn.model import TGNModel, build_model
from models.tgn.recommender import TGNRecommender
from models.tgn.training import TrainResult, train

__all__ = [
    "Checkpoint",
    "DriftMonitor",
    "FinetuneResult",
    "TGNModel",
    "TGNRecommender",
    "TrainResult",
    "build_model",
    "finetune",
    "load_checkpoint",
    "new_version",
    "save_checkpoint",
    "train",
]
