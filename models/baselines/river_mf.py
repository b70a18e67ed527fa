"""``river_mf``: river's online biased matrix factorization, on implicit feedback with sampled negatives."""
from __future__ import annotations

from typing import Any

import numpy as np
from river import optim, reco

from models.base import Recommender

_LOSSES = {"squared": optim.losses.Squared, "log": optim.losses.Log}


class RiverMF(Recommender):
    """:class:`river.reco.BiasedMF` learned one event at a time; items ranked by its predicted score.

    Every observed event is a positive (``y = 1``; event weights are not used) followed by
    ``n_negatives`` items drawn uniformly from the other known items as negatives (``y = 0``), with a
    seeded generator. River keeps its weights in dicts; after each river update the touched item's bias
    and latent vector are copied into numpy arrays, so scoring all items is one matrix-vector product
    that equals river's ``predict_one`` item by item. Scoring never mutates river's state: a user river
    has not seen yet gets a zero bias and latent vector (the mean of river's initializer) instead of the
    random draw ``predict_one`` would store.

    Parameters
    ----------
    n_factors
        Latent dimension.
    learning_rate
        SGD step size for biases and latent vectors.
    l2
        L2 penalty on biases and latent vectors.
    n_negatives
        Sampled negatives per observed event.
    loss
        ``"squared"`` (river's default) or ``"log"``.
    seed
        Seeds river's latent initializer and the negative sampler.

    Examples
    --------
    >>> model = RiverMF(n_factors=4, seed=1)
    >>> for t in range(30):
    ...     model.learn_one(user=0, item=t % 2, t=float(t))
    ...     model.learn_one(user=1, item=2, t=float(t))
    >>> scores = model.score(user=1, t=31.0, n_items=3)
    >>> int(np.argmax(scores))
    2
    >>> bool(np.isclose(scores[0], model.river_model.predict_one(1, 0)))
    True
    """

    name = "river_mf"

    def __init__(
        self,
        n_factors: int = 32,
        learning_rate: float = 0.05,
        l2: float = 0.0,
        n_negatives: int = 4,
        loss: str = "squared",
        seed: int = 0,
    ) -> None:
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {loss!r}")
        self.n_factors = n_factors
        self.learning_rate = learning_rate
        self.l2 = l2
        self.n_negatives = n_negatives
        self.loss = loss
        self.seed = seed
        self.river_model = reco.BiasedMF(
            n_factors=n_factors,
            bias_optimizer=optim.SGD(learning_rate),
            latent_optimizer=optim.SGD(learning_rate),
            loss=_LOSSES[loss](),
            l2_bias=l2,
            l2_latent=l2,
            latent_initializer=optim.initializers.Normal(mu=0.0, sigma=0.1, seed=seed),
            seed=seed,
        )
        self._rng = np.random.default_rng(seed)
        self._item_bias = np.zeros(0)
        self._item_latent = np.zeros((0, n_factors))
        self._n_items = 0

    def _fit(self, user: int, item: int, y: float) -> None:
        mf = self.river_model
        mf.learn_one(user, item, y)
        if item >= len(self._item_bias):
            size = max(item + 1, 2 * len(self._item_bias), 16)
            self._item_bias = np.concatenate([self._item_bias, np.zeros(size - len(self._item_bias))])
            pad = np.zeros((size - len(self._item_latent), self.n_factors))
            self._item_latent = np.concatenate([self._item_latent, pad])
        self._item_bias[item] = mf.i_biases[item]
        self._item_latent[item] = mf.i_latents[item]

    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        self._n_items = max(self._n_items, item + 1)
        self._fit(user, item, 1.0)
        if self._n_items > 1 and self.n_negatives > 0:
            draws = self._rng.integers(0, self._n_items - 1, size=self.n_negatives)
            for j in draws.tolist():
                self._fit(user, j + (j >= item), 0.0)  # skip the positive itself

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        mf = self.river_model
        m = min(n_items, len(self._item_bias))
        scores = np.full(n_items, mf.global_mean.get() + mf.u_biases.get(user, 0.0))
        scores[:m] += self._item_bias[:m]
        latent = mf.u_latents.get(user)  # .get: do not let the defaultdict draw a vector
        if latent is not None:
            scores[:m] += self._item_latent[:m] @ latent
        return scores

    @classmethod
    def param_grid(cls) -> list[dict[str, Any]]:
        return [{"n_factors": f, "learning_rate": lr} for f in (32, 128) for lr in (0.05, 0.1)]
