"""Synthetic interaction streams with the structure real recommenders exploit: e-commerce and games.

The generative story (both scenarios)
-------------------------------------
* **Items** have a latent base popularity that follows a Zipf law: the item of popularity rank ``r`` (a
  random permutation, unrelated to its id) has weight ``r ** -zipf_alpha``. Each item belongs to one
  category (e-commerce) or genre (games).
* **Popularity drifts.** An item's attractiveness at time ``t`` is ``base * life(age)`` with
  ``life(a) = floor + (1 - floor) * (a / peak) * exp(1 - a / peak)``: it rises after release, peaks at
  age ``peak`` (log-normal per item) and fades back to ``floor``. Part of the catalogue exists at the start
  (already at various ages); the rest is released over the stream, so **new items appear** and some of them
  become hits.
* **Users** join over time (part of them at the start), each with a Dirichlet preference over categories
  (a few favourite categories) and a log-normal activity level.
* **Sessions.** A user comes back after an exponential gap (mean ``mean_inter_session_s / activity``, i.e.
  hours to days) and produces a burst of events seconds to minutes apart. Each item choice in a session is
  one of: a **repeat** of one of the user's favourites (drawn by the weight the user has given each item
  so far: repeat purchases, replays), with probability ``p_repeat``; an item **related** to the previous
  one (each item has ``n_related`` fixed companions in its category: the co-occurrence signal), with
  probability ``p_related``; otherwise **exploration**: a category from the user's preferences, then an
  item of it by current attractiveness (popularity).

E-commerce: a session is a run of ``view`` events; a viewed item goes to the cart with probability
``p_cart`` (``p_cart_repeat`` for a favourite) and a carted item is bought with probability ``p_purchase``
(lower for items priced above their category's median), the purchases forming a checkout at the end of the
session: a funnel of many views, fewer carts, fewer purchases. Weights are
:data:`graph_store.events.DEFAULT_EVENT_WEIGHTS` of the event type; attrs ``category`` and ``price``.

Games: a session is a run of ``play`` events (one per match, stamped when the match ends); the next match
is a replay of the same game with probability ``p_same_game``. ``play_seconds`` is log-normal (heavy
tailed) around the game's typical match length, longer for favourites; ``win`` is a Bernoulli draw of
``sigmoid(skill - difficulty + practice)`` where practice grows with the user's plays of that game; attrs
``play_seconds``, ``win``, ``genre``. The weight grows with play time, sub-linearly so a marathon does not
swamp everything else::

    weight = DEFAULT_EVENT_WEIGHTS["play"] * (1 + ln(1 + play_seconds / 600))

(10 s -> 1.02, 10 min -> 1.69, 1 h -> 2.95).

Both scenarios are learnable by construction: repeats and within-session continuity reward recency,
the Zipf head rewards popularity, related items reward co-occurrence.

>>> events = list(generate("ecommerce", 5, seed=1))
>>> [e.event_id for e in events]
['e-00000000', 'e-00000001', 'e-00000002', 'e-00000003', 'e-00000004']
>>> all(a.ts <= b.ts for a, b in zip(events, events[1:]))
True
>>> events == list(generate("ecommerce", 5, seed=1))
True
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

import numpy as np

from graph_store.events import DEFAULT_EVENT_WEIGHTS, Interaction

Scenario = Literal["ecommerce", "games"]

#: Default event time of the first possible event (2023-11-14T22:13:20Z).
DEFAULT_START_TS = 1_700_000_000.0

_DAY = 86_400.0


@dataclass(frozen=True)
class ScenarioConfig:
    """Parameters shared by every scenario (see the module docstring for the story they drive)."""

    categories: tuple[str, ...] = ()
    #: Exponent of the Zipf law of base item popularity.
    zipf_alpha: float = 1.0
    #: Dirichlet concentration of each user's category preferences (small = few favourite categories).
    category_concentration: float = 0.3
    #: Mean number of item choices per session (geometric, at least 1).
    mean_session_items: float = 4.0
    #: Median gap between two choices in a session, seconds (log-normal, sigma 0.8).
    session_gap_s: float = 45.0
    #: Mean gap between a user's sessions for an average user, seconds (exponential).
    mean_inter_session_s: float = 2 * _DAY
    #: Sigma of the log-normal user activity level (mean 1): heavy users come back more often.
    activity_sigma: float = 1.0
    p_repeat: float = 0.25
    p_related: float = 0.3
    n_related: int = 5
    #: Share of users present at the start; the rest join uniformly over the stream.
    initial_user_fraction: float = 0.4
    #: Share of items available at the start; the rest are released uniformly over the stream.
    initial_item_fraction: float = 0.5
    #: Attractiveness an item keeps long before / after its peak, relative to its base.
    lifecycle_floor: float = 0.2
    #: Median age at the popularity peak, as a fraction of the planned stream duration.
    lifecycle_peak_fraction: float = 0.2
    item_prefix: str = "item-"
    user_prefix: str = "u"


@dataclass(frozen=True)
class EcommerceConfig(ScenarioConfig):
    """E-commerce sessions: views, carts, checkout."""

    categories: tuple[str, ...] = (
        "shoes", "electronics", "books", "home", "beauty", "toys",
        "sports", "grocery", "fashion", "garden", "music", "pets",
    )
    item_prefix: str = "sku-"
    p_cart: float = 0.12
    p_cart_repeat: float = 0.45
    p_purchase: float = 0.5
    #: Median price per category is drawn log-normal around this (sigma 0.8); items vary around it (sigma 0.4).
    median_price: float = 30.0


@dataclass(frozen=True)
class GamesConfig(ScenarioConfig):
    """Game sessions: matches of one or a few games, often the same one again."""

    categories: tuple[str, ...] = (
        "action", "puzzle", "strategy", "rpg", "sports", "racing", "shooter", "simulation", "casual", "adventure",
    )
    item_prefix: str = "game-"
    mean_session_items: float = 3.0
    mean_inter_session_s: float = 1.0 * _DAY
    p_repeat: float = 0.5
    p_related: float = 0.25
    #: Chance that the next match in a session is the same game again.
    p_same_game: float = 0.55
    #: Median typical match length of a game, seconds (each game's is log-normal around it, sigma 0.7).
    median_play_s: float = 600.0
    #: Sigma of the log-normal match length around the game's typical length (the heavy tail).
    play_sigma: float = 1.0
    #: Favourites (repeat choices) are played this much longer.
    favourite_play_factor: float = 1.5
    #: Gap between matches (lobby, menus), median seconds.
    session_gap_s: float = 40.0


SCENARIOS: dict[str, ScenarioConfig] = {"ecommerce": EcommerceConfig(), "games": GamesConfig()}


def play_weight(play_seconds: float) -> float:
    """Weight of a ``play`` event: grows with play time, sub-linearly.

    >>> round(play_weight(600.0), 3), round(play_weight(3600.0), 3)
    (1.693, 2.946)
    """
    return DEFAULT_EVENT_WEIGHTS["play"] * (1.0 + math.log1p(play_seconds / 600.0))


def zipf_top_share(alpha: float, n_items: int, fraction: float) -> float:
    """Share of a Zipf(``alpha``) law's mass on its top ``fraction`` of ``n_items`` items.

    What base popularity alone would give the head; drift and preferences spread it out somewhat.

    >>> round(zipf_top_share(1.0, 100, 0.1), 3)
    0.565
    """
    w = np.arange(1, n_items + 1, dtype=np.float64) ** -alpha
    top = max(1, int(round(fraction * n_items)))
    return float(w[:top].sum() / w.sum())


def default_sizes(n_events: int) -> tuple[int, int]:
    """``(n_users, n_items)`` used when not given: about 40 events per user and 100 per item.

    >>> default_sizes(100_000)
    (2500, 1000)
    """
    return max(20, n_events // 40), max(50, n_events // 100)


def generate(
    scenario: Scenario,
    n_events: int,
    seed: int = 0,
    n_users: int | None = None,
    n_items: int | None = None,
    start_ts: float = DEFAULT_START_TS,
    config: ScenarioConfig | None = None,
) -> Iterator[Interaction]:
    """Yield ``n_events`` synthetic interactions of ``scenario`` in chronological order.

    Deterministic for a ``seed``. ``config`` overrides the scenario's parameters (an
    :class:`EcommerceConfig` or :class:`GamesConfig`). Event ids are ``e-00000000``, ``e-00000001``, ...
    in time order; users are ``u000000``...; items ``sku-00000``... or ``game-0000``....
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}")
    if n_events < 0:
        raise ValueError("n_events must be >= 0")
    cfg = config or SCENARIOS[scenario]
    expected = EcommerceConfig if scenario == "ecommerce" else GamesConfig
    if not isinstance(cfg, expected):
        raise TypeError(f"scenario {scenario!r} needs a {expected.__name__}, got {type(cfg).__name__}")
    du, di = default_sizes(n_events)
    world = _World(cfg, n_events, n_users or du, n_items or di, np.random.default_rng(seed))
    session = world.ecommerce_session if scenario == "ecommerce" else world.games_session
    return _merge_sessions(world, session, n_events, start_ts)


@dataclass
class _Pending:
    """One generated event waiting in the time-ordered merge heap."""

    t: float
    user: int
    item: int
    event_type: str
    weight: float
    attrs: dict[str, Any] = field(default_factory=dict)


def _merge_sessions(world: "_World", session: Any, n_events: int, start_ts: float) -> Iterator[Interaction]:
    """Run sessions in order of their start and release events once no later session can precede them."""
    cfg = world.cfg
    # Heap of (next session start, user); heap of (event time, sequence, pending event).
    users = [(float(world.join[u] + world.rng.exponential(world.inter_session[u])), u) for u in range(world.n_users)]
    heapq.heapify(users)
    events: list[tuple[float, int, _Pending]] = []
    seq = 0
    emitted = 0
    while emitted < n_events:
        next_start = users[0][0]
        while events and events[0][0] <= next_start:
            _, _, ev = heapq.heappop(events)
            yield Interaction(
                user_id=f"{cfg.user_prefix}{ev.user:06d}",
                item_id=world.item_names[ev.item],
                ts=round(float(start_ts + ev.t), 3),
                event_type=ev.event_type,
                weight=round(ev.weight, 4),
                event_id=f"e-{emitted:08d}",
                attrs=ev.attrs,
            )
            emitted += 1
            if emitted >= n_events:
                return
        t0, u = heapq.heappop(users)
        end = t0
        for ev in session(u, t0):
            heapq.heappush(events, (ev.t, seq, ev))
            seq += 1
            end = ev.t
        heapq.heappush(users, (end + float(world.rng.exponential(world.inter_session[u])), u))


class _World:
    """The latent state of a synthetic stream: catalogue, users, their histories, and the sampling rules."""

    def __init__(self, cfg: ScenarioConfig, n_events: int, n_users: int, n_items: int, rng: np.random.Generator):
        if n_users < 1 or n_items < 2:
            raise ValueError("need at least 1 user and 2 items")
        self.cfg, self.rng = cfg, rng
        self.n_users, self.n_items = n_users, n_items
        n_cat = len(cfg.categories)

        # Planned duration: n_events at the expected event rate (joins spread over it halve their share).
        per_session = cfg.mean_session_items * self._events_per_choice()
        active = cfg.initial_user_fraction + (1 - cfg.initial_user_fraction) / 2
        self.horizon = max(3600.0, n_events * cfg.mean_inter_session_s / (n_users * per_session * active))

        # Items: Zipf base popularity on a random rank order, a category, a release time and a peak age.
        ranks = rng.permutation(n_items)
        self.base = (ranks + 1.0) ** -cfg.zipf_alpha
        cat_sizes = rng.dirichlet(np.full(n_cat, 2.0))
        self.category = rng.choice(n_cat, size=n_items, p=cat_sizes)
        self.peak = np.exp(rng.normal(math.log(cfg.lifecycle_peak_fraction * self.horizon), 0.5, n_items))
        n_initial = max(1, int(round(cfg.initial_item_fraction * n_items)))
        birth = np.sort(rng.uniform(0.0, self.horizon, n_items))
        birth[:n_initial] = -rng.uniform(0.0, 3.0, n_initial) * self.peak[:n_initial]  # already on sale
        for c in range(n_cat):  # every category has something at the start
            members = np.flatnonzero(self.category == c)
            if len(members):
                birth[members[0]] = min(birth[members[0]], 0.0)
        self.birth = birth
        self.cat_items = [np.flatnonzero(self.category == c) for c in range(n_cat)]
        self.related = self._related_items()
        width = len(str(n_items - 1))
        self.item_names = [f"{cfg.item_prefix}{i:0{max(4, width)}d}" for i in range(n_items)]

        # Users: join time, category preferences, activity.
        n_first = max(1, int(round(cfg.initial_user_fraction * n_users)))
        join = np.sort(rng.uniform(0.0, self.horizon, n_users))
        join[:n_first] = 0.0
        self.join = join
        self.prefs = rng.dirichlet(np.full(n_cat, cfg.category_concentration), size=n_users)
        activity = np.exp(rng.normal(-cfg.activity_sigma**2 / 2, cfg.activity_sigma, n_users))
        self.inter_session = cfg.mean_inter_session_s / activity
        self.history: list[dict[int, float]] = [{} for _ in range(n_users)]

        self._refresh_every = self.horizon / 400
        self._refreshed_at = -math.inf
        self._scenario_init()

    # -- catalogue -------------------------------------------------------------------------------------
    def _events_per_choice(self) -> float:
        cfg = self.cfg
        if isinstance(cfg, EcommerceConfig):
            return 1.0 + cfg.p_cart * (1.0 + cfg.p_purchase)
        return 1.0

    def _related_items(self) -> np.ndarray:
        """``n_related`` companions per item, from its category, drawn by base popularity."""
        k = self.cfg.n_related
        out = np.empty((self.n_items, k), dtype=np.int64)
        for members in self.cat_items:
            for i in members:
                others = members[members != i]
                if len(others) == 0:
                    others = np.delete(np.arange(self.n_items), i)
                p = self.base[others] / self.base[others].sum()
                out[i] = self.rng.choice(others, size=k, replace=len(others) < k, p=p)
        return out

    def _refresh(self, t: float) -> None:
        """Recompute attractiveness (popularity drift) and per-category sampling tables at time ``t``."""
        if t - self._refreshed_at < self._refresh_every:
            return
        self._refreshed_at = t
        cfg = self.cfg
        age = t - self.birth
        x = np.clip(age, 0.0, None) / self.peak
        life = cfg.lifecycle_floor + (1 - cfg.lifecycle_floor) * x * np.exp(1 - x)
        attract = np.where(age >= 0, self.base * life, 0.0)
        self._cum = [np.cumsum(attract[m]) for m in self.cat_items]
        self._cat_open = np.array([len(c) > 0 and c[-1] > 0 for c in self._cum], dtype=np.float64)

    def _explore(self, u: int) -> int:
        """A category by the user's preference (among those with items on offer), then an item by popularity."""
        p = self.prefs[u] * self._cat_open
        if p.sum() <= 0:  # all of this user's taste is in categories with nothing on offer yet
            p = self._cat_open
        c = int(np.searchsorted(np.cumsum(p), self.rng.random() * p.sum(), side="right"))
        c = min(c, len(p) - 1)
        cum = self._cum[c]
        j = int(np.searchsorted(cum, self.rng.random() * cum[-1], side="right"))
        return int(self.cat_items[c][min(j, len(cum) - 1)])

    def _favourite(self, u: int) -> int:
        """One of the user's past items, by the total weight the user gave it."""
        hist = self.history[u]
        items = list(hist)
        cum = np.cumsum(list(hist.values()))
        j = int(np.searchsorted(cum, self.rng.random() * cum[-1], side="right"))
        return items[min(j, len(items) - 1)]

    def choose(self, u: int, prev: int | None, t: float) -> tuple[int, bool]:
        """Next item of user ``u`` at time ``t`` after ``prev``; True when it is a repeat of a favourite."""
        r = self.rng.random()
        if self.history[u] and r < self.cfg.p_repeat:
            return self._favourite(u), True
        if prev is not None and r < self.cfg.p_repeat + self.cfg.p_related:
            cand = int(self.related[prev][self.rng.integers(self.cfg.n_related)])
            if self.birth[cand] <= t:
                return cand, False
        return self._explore(u), False

    def _remember(self, u: int, item: int, weight: float) -> None:
        self.history[u][item] = self.history[u].get(item, 0.0) + weight

    def _gap(self) -> float:
        return float(self.cfg.session_gap_s * math.exp(0.8 * self.rng.standard_normal()))

    # -- scenarios -------------------------------------------------------------------------------------
    def _scenario_init(self) -> None:
        cfg, rng, n_cat = self.cfg, self.rng, len(self.cfg.categories)
        if isinstance(cfg, EcommerceConfig):
            cat_price = cfg.median_price * np.exp(rng.normal(0.0, 0.8, n_cat))
            self.cat_price = cat_price
            self.price = np.round(cat_price[self.category] * np.exp(rng.normal(0.0, 0.4, self.n_items)), 2)
            self.price = np.maximum(self.price, 0.99)
            # Dearer than the category median -> bought less often (elasticity 0.5).
            self.p_buy = np.clip(cfg.p_purchase * (cat_price[self.category] / self.price) ** 0.5, 0.05, 0.95)
        elif isinstance(cfg, GamesConfig):
            self.match_s = cfg.median_play_s * np.exp(rng.normal(0.0, 0.7, self.n_items))
            self.difficulty = rng.normal(0.0, 1.0, self.n_items)
            self.skill = rng.normal(0.0, 1.0, self.n_users)
            self.plays: list[dict[int, int]] = [{} for _ in range(self.n_users)]

    def ecommerce_session(self, u: int, t0: float) -> list[_Pending]:
        """Views with occasional add-to-cart, then a checkout of part of the cart."""
        cfg: EcommerceConfig = self.cfg  # type: ignore[assignment]
        rng = self.rng
        self._refresh(t0)
        out: list[_Pending] = []
        t, prev, cart = t0, None, []
        w = DEFAULT_EVENT_WEIGHTS
        for _ in range(int(rng.geometric(1.0 / cfg.mean_session_items))):
            item, repeat = self.choose(u, prev, t)
            attrs = {"category": cfg.categories[self.category[item]], "price": float(self.price[item])}
            out.append(_Pending(t, u, item, "view", w["view"], attrs))
            self._remember(u, item, w["view"])
            if rng.random() < (cfg.p_cart_repeat if repeat else cfg.p_cart):
                t += float(rng.exponential(20.0)) + 1.0
                out.append(_Pending(t, u, item, "cart", w["cart"], attrs))
                self._remember(u, item, w["cart"])
                if rng.random() < self.p_buy[item]:
                    cart.append((item, attrs))
            prev = item
            t += self._gap()
        for item, attrs in cart:
            t += float(rng.exponential(10.0)) + 1.0
            out.append(_Pending(t, u, item, "purchase", w["purchase"], attrs))
            self._remember(u, item, w["purchase"])
        return out

    def games_session(self, u: int, t0: float) -> list[_Pending]:
        """Matches back to back, often the same game again; each event is stamped at the match's end."""
        cfg: GamesConfig = self.cfg  # type: ignore[assignment]
        rng = self.rng
        self._refresh(t0)
        out: list[_Pending] = []
        t, game, repeat = t0, None, False
        for _ in range(int(rng.geometric(1.0 / cfg.mean_session_items))):
            if game is None or rng.random() >= cfg.p_same_game:
                game, repeat = self.choose(u, game, t)
            typical = float(self.match_s[game]) * (cfg.favourite_play_factor if repeat else 1.0)
            seconds = round(max(5.0, typical * math.exp(cfg.play_sigma * rng.standard_normal())), 1)
            practice = 0.3 * math.log1p(self.plays[u].get(game, 0))
            p_win = 1.0 / (1.0 + math.exp(-float(self.skill[u] - self.difficulty[game] + practice)))
            t += seconds
            weight = play_weight(seconds)
            attrs = {"play_seconds": seconds, "win": int(rng.random() < p_win), "genre": cfg.categories[self.category[game]]}
            out.append(_Pending(t, u, game, "play", weight, attrs))
            self._remember(u, game, weight)
            self.plays[u][game] = self.plays[u].get(game, 0) + 1
            t += self._gap()
        return out
