"""Model names -> recommender classes: the baselines, plus ``"tgn"`` imported only when asked for.

The TGN pulls in torch and torch-geometric; importing it lazily keeps ``streamrec evaluate`` of the
baselines fast and working where the TGN package is absent.

>>> make_recommender("pop", tau=60.0).tau
60.0
>>> "tgn" in available_models()
True
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any

from models.base import Recommender
from models.baselines import BASELINES

#: Models resolved on first use: name -> (module, class name).
LAZY_MODELS: dict[str, tuple[str, str]] = {
    "tgn": ("models.tgn", "TGNRecommender"),
    "heuristic": ("models.heuristic", "GraphHeuristic"),  # the worker's default scorer, over its own graph
}


def available_models() -> list[str]:
    """Every name :func:`make_recommender` accepts (lazy ones listed whether or not importable)."""
    return sorted(set(BASELINES) | set(LAZY_MODELS))


def model_class(name: str) -> type[Recommender]:
    """The class registered under ``name``; raises ``KeyError`` naming the choices."""
    if name in BASELINES:
        return BASELINES[name]
    if name in LAZY_MODELS:
        module, attr = LAZY_MODELS[name]
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise KeyError(f"model {name!r} is registered but {module}.{attr} cannot be imported: {exc}") from exc
        return cls
    raise KeyError(f"unknown model {name!r}; choose from {', '.join(available_models())}")


def accepts(cls: type, param: str) -> bool:
    """Whether ``cls.__init__`` takes a parameter called ``param`` (e.g. ``seed``).

    >>> accepts(BASELINES["river_mf"], "seed"), accepts(BASELINES["edgebank"], "seed")
    (True, False)
    """
    return param in inspect.signature(cls.__init__).parameters


def make_recommender(name: str, **params: Any) -> Recommender:
    """A fresh recommender ``name`` built with hyperparameters ``params``."""
    return model_class(name)(**params)
