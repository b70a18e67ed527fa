"""How much MRR is there to win on a data set, and where: the evidence behind the TGN's 0.86 target.

The test MRR is a weighted sum over what each user does next (``EventStream.next_kinds``):

    MRR = share(same as last) * MRR(same as last) + share(other past) * MRR(other past) + share(new) * MRR(new)

A model that ranks the user's last item first cannot place any other item above rank 2, so the
"other past" and "new" groups are worth at most 1/2 each. This script measures, from the data alone:

1. the shares of the three groups in the validation and test spans;
2. the **new-pair MRR a model would need** to reach ``--target`` if it ranked the last item first
   (MRR 1 there) *and* every other past item perfectly second (MRR 1/2, the ceiling) -- the most
   favourable case short of demoting the last item;
3. whether demoting the last item can pay: user contexts (time since the user's last event, length of
   the current run on the last item, the user's past switch rate) are counted on the train span, and in
   every context where the user's previous *other* item was more often next than the last item, that item
   is put first on the test span. The script counts the events this wins (the other item was next) and
   loses (the last item was next) and the MRR change of that rule on a recency ranking (where it swaps
   ranks 1 and 2). It is learned on train and applied to test: an estimate of what context-aware
   demotion of the last item can add, not a bound;
4. what a perfect *stay-or-switch* oracle is worth to ``recency_pop`` (:func:`switch_oracle`): told when the
   user leaves their last item (not where to), a recency ranking drops that item and moves the rest up;
5. how well the strongest simple signals find a new pair's item *among the items the user has not used*
   (popularity over the last hour, transitions out of the user's last item): an optimistic view of the
   new-pair group, because in a real ranking the user's past items also sit above it. Its
   ``if last first`` figure, ``mean(1 / (1 + rank among unseen))``, is what the new-pair group would score
   with the last item first and every unseen item ranked right below it.

With ``--tgn-json`` (written by ``bench/tgn_wikipedia.py``) it also prints the measured per-group MRR of
``recency_pop`` and the TGN and draws them against the ceilings and the needed level (``--plot``).

    python bench/wikipedia_headroom.py --tgn-json runs/tgn_wikipedia.json --plot docs/img/headroom_wikipedia.png
"""
from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from graph_store.readers import read_events
from models.evaluation.protocol import NEXT_KIND_NAMES, NEW_PAIR, OTHER_PAST, SAME_AS_LAST, encode, split_by_count

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jodie-wikipedia" / "events.csv.gz"
#: Context buckets: seconds since the user's last event, run length on the last item, past switch rate.
GAP_EDGES = (60.0, 600.0, 3600.0, 86400.0)
RUN_CAP = 6
SWITCH_BINS = 5


def contexts(users: np.ndarray, items: np.ndarray, ts: np.ndarray) -> tuple[list[tuple | None], np.ndarray]:
    """Per event: its context bucket (``None`` for a user's first event, or with no other past item) and
    the user's previous *other* item (the most recent item that is not the last one; -1 if none).

    Everything is read from the user's events *before* the event, so no event sees itself.
    """
    ctx: list[tuple | None] = [None] * len(users)
    prev_other = np.full(len(users), -1, dtype=np.int64)
    last: dict[int, int] = {}
    last_ts: dict[int, float] = {}
    other: dict[int, int] = {}
    run: dict[int, int] = {}
    n_events: Counter = Counter()
    n_switch: Counter = Counter()
    for e, (u, i, t) in enumerate(zip(users.tolist(), items.tolist(), ts.tolist())):
        if u in last and u in other:
            rate = n_switch[u] / max(n_events[u] - 1, 1)
            ctx[e] = (int(np.searchsorted(GAP_EDGES, t - last_ts[u])), min(run[u], RUN_CAP),
                      min(int(rate * SWITCH_BINS), SWITCH_BINS - 1))
            prev_other[e] = other[u]
        if u in last and last[u] != i:
            other[u] = last[u]
            n_switch[u] += 1
            run[u] = 1
        else:
            run[u] = run.get(u, 0) + 1
        last[u], last_ts[u] = i, t
        n_events[u] += 1
    return ctx, prev_other


def demotion_rule(ctx: list[tuple | None], prev_other: np.ndarray, kinds: np.ndarray, items: np.ndarray,
                  train: slice, test: slice, min_support: int = 30) -> dict:
    """Learn on ``train`` the contexts where the previous other item beats the last item; apply to ``test``."""
    wins: dict[tuple, Counter] = defaultdict(Counter)
    for e in range(train.start, train.stop):
        if ctx[e] is None:
            continue
        c = wins[ctx[e]]
        c["n"] += 1
        c["last"] += int(kinds[e] == SAME_AS_LAST)
        c["prev_other"] += int(items[e] == prev_other[e])
    flip = {k for k, c in wins.items() if c["n"] >= min_support and c["prev_other"] > c["last"]}
    n_train = sum(c["n"] for c in wins.values())
    gained = lost = covered = 0
    for e in range(test.start, test.stop):
        if ctx[e] is None or ctx[e] not in flip:
            continue
        covered += 1
        gained += int(items[e] == prev_other[e])
        lost += int(kinds[e] == SAME_AS_LAST)
    n_test = test.stop - test.start
    # On a ranking that orders the user's items by recency (recency_pop) the last item is first and the previous
    # other item second, so a flip swaps ranks 1 and 2: +1/2 per win, -1/2 per loss, nothing else moves.
    return {"contexts": len(wins), "flip_contexts": len(flip),
            "train_share_in_flip_contexts": sum(wins[k]["n"] for k in flip) / max(n_train, 1),
            "test_events_flipped": covered, "test_share_flipped": covered / max(n_test, 1),
            "test_gained": gained, "test_lost": lost, "mrr_change_on_recency_ranking": 0.5 * (gained - lost) / max(n_test, 1)}


def unseen_item_ranks(users: np.ndarray, items: np.ndarray, ts: np.ndarray, kinds: np.ndarray, start: int,
                      tau: float = 3600.0) -> dict[str, np.ndarray]:
    """For every new-pair event from ``start`` on (whose item existed before), the expected rank of its item
    among the items the user has not used, by hourly popularity and by transitions out of the user's
    last item (ties by hourly popularity); state is learned after each event is ranked."""
    n_items = int(items.max()) + 1
    pop, anchor, known = np.zeros(n_items), float(ts[0]) if len(ts) else 0.0, 0
    used: dict[int, set[int]] = defaultdict(set)
    last: dict[int, int] = {}
    trans: dict[int, Counter] = defaultdict(Counter)
    out: dict[str, list[float]] = {"popularity (1 h)": [], "transitions from the last item": []}

    def rank(score: np.ndarray, target: int, user: int) -> float:
        score = score[:known].copy()
        score[list(used[user])] = -np.inf
        return 1.0 + np.sum(score > score[target]) + 0.5 * (np.sum(score == score[target]) - 1)

    for e, (u, i, t) in enumerate(zip(users.tolist(), items.tolist(), ts.tolist())):
        pop *= np.exp(-(t - anchor) / tau)
        anchor = t
        if e >= start and kinds[e] == NEW_PAIR and i < known:
            out["popularity (1 h)"].append(rank(pop, i, u))
            tr = np.zeros(n_items)
            for j, c in trans[last[u]].items() if u in last else ():
                tr[j] = c
            out["transitions from the last item"].append(rank(tr + 1e-9 * pop, i, u))
        pop[i] += 1.0
        if u in last and last[u] != i:
            trans[last[u]][i] += 1
        last[u] = i
        used[u].add(i)
        known = max(known, i + 1)
    return {k: np.asarray(v) for k, v in out.items()}


def switch_oracle(users: np.ndarray, items: np.ndarray, ts: np.ndarray, kinds: np.ndarray, start: int,
                  tau: float = 86400.0) -> dict[str, float]:
    """``recency_pop`` on the events from ``start`` on, with and without an oracle that says whether the user
    is about to stay on their last item or switch (but not where to).

    With the oracle, a stay is ranked first (reciprocal rank 1) and on a switch the last item leaves the
    list, so every other item moves up one place. It bounds what *knowing when users switch* is worth
    to a recency ranking: the part of the gap no switch predictor can close is where the user goes.
    """
    n_items = int(items.max()) + 1 if len(items) else 0
    pop, anchor, known = np.zeros(n_items), float(ts[0]) if len(ts) else 0.0, 0
    last_use: dict[int, dict[int, int]] = defaultdict(dict)
    plain: list[float] = []
    oracle: list[float] = []
    for e, (u, i, t) in enumerate(zip(users.tolist(), items.tolist(), ts.tolist())):
        pop *= np.exp(-(t - anchor) / tau)
        anchor = t
        if e >= start:
            used = last_use[u]
            if i in used:  # rank among the user's items, most recent first
                r = 1.0 + sum(1 for e2 in used.values() if e2 > used[i])
            elif i < known:  # after every past item, then by popularity among the unused (expected rank on ties)
                free = np.ones(known, dtype=bool)
                free[list(used)] = False
                p = pop[:known][free]
                r = len(used) + 1.0 + np.sum(p > pop[i]) + 0.5 * (np.sum(p == pop[i]) - 1)
            else:
                r = known + 1.0
            plain.append(1.0 / r)
            oracle.append(1.0 if kinds[e] == SAME_AS_LAST else 1.0 / (r - 1.0 if used and r > 1 else r))
        pop[i] += 1.0
        last_use[u][i] = e
        known = max(known, i + 1)
    k = kinds[start:]
    plain_a, oracle_a = np.asarray(plain), np.asarray(oracle)
    out = {"recency_pop": float(plain_a.mean()), "recency_pop_with_switch_oracle": float(oracle_a.mean())}
    for code, name in enumerate(NEXT_KIND_NAMES):
        out[f"oracle_mrr_{name}"] = float(oracle_a[k == code].mean())
    return out


def needed_new_mrr(shares: dict[str, float], target: float, mrr_last: float = 1.0, mrr_other: float = 0.5) -> float:
    """The new-pair MRR that reaches ``target`` given the other two groups' MRR.

    >>> round(needed_new_mrr({"same as last": 0.8, "other past item": 0.1, "new pair": 0.1}, 0.86), 3)
    0.1
    """
    rest = shares["same as last"] * mrr_last + shares["other past item"] * mrr_other
    return (target - rest) / shares["new pair"]


def plot(path: str, shares: dict[str, float], measured: dict[str, dict[str, float]], needed_new: float,
         target: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(NEXT_KIND_NAMES)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / max(len(measured), 1)
    for n, (model, mrrs) in enumerate(measured.items()):
        ax.bar(x - 0.4 + width * (n + 0.5), [mrrs[k] for k in names], width, label=f"{model} (measured)")
    ceiling = [1.0, 0.5, 0.5]
    ax.scatter(x, ceiling, marker="_", s=900, color="black", zorder=3, label="ceiling with the last item ranked first")
    ax.scatter([x[2]], [needed_new], marker="*", s=180, color="crimson", zorder=4,
               label=f"needed for MRR {target:.2f} even at both ceilings")
    ax.set_xticks(x, [f"{k}\n{shares[k]:.1%} of test events" for k in names])
    ax.set_ylabel("MRR within the group")
    ax.set_ylim(0, 1.05)
    ax.set_title("Wikipedia test span: MRR by what the user did next")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--target", type=float, default=0.86)
    ap.add_argument("--tgn-json", default=None, help="report of bench/tgn_wikipedia.py (measured MRR per group)")
    ap.add_argument("--plot", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    stream = encode(read_events(args.data))
    split = split_by_count(len(stream))
    kinds = stream.next_kinds()
    report: dict = {"n_events": len(stream), "target": args.target}
    for span, (a, b) in (("val", (split.train_end, split.val_end)), ("test", (split.val_end, len(stream)))):
        counts = np.bincount(kinds[a:b], minlength=3)
        report[f"shares_{span}"] = {name: float(counts[c] / (b - a)) for c, name in enumerate(NEXT_KIND_NAMES)}
    shares = report["shares_test"]
    report["needed_new_mrr"] = needed_new_mrr(shares, args.target)
    report["ceiling_if_new_as_measured"] = {}

    ctx, prev_other = contexts(stream.users, stream.items, stream.ts)
    report["demotion"] = demotion_rule(ctx, prev_other, kinds, stream.items, slice(0, split.train_end),
                                       slice(split.val_end, len(stream)))

    report["unseen_item_ranking"] = {
        name: {"mrr_among_unseen": float(np.mean(1.0 / r)), "recall@10_among_unseen": float(np.mean(r <= 10)),
               "mrr_if_last_first": float(np.mean(1.0 / (1.0 + r))), "n": int(len(r))}
        for name, r in unseen_item_ranks(stream.users, stream.items, stream.ts, kinds, split.val_end).items()}

    report["switch_oracle"] = switch_oracle(stream.users, stream.items, stream.ts, kinds, split.val_end)

    measured: dict[str, dict[str, float]] = {}
    if args.tgn_json:
        tgn = json.loads(Path(args.tgn_json).read_text())
        for model in ("recency_pop", "tgn"):
            by_kind = tgn[f"{model}_test"].get("by_next_kind")
            if by_kind:
                measured[model] = {k: float(v["mrr"]) for k, v in by_kind.items()}
                # What the model would score with the last item always first and other past items at their ceiling.
                report["ceiling_if_new_as_measured"][model] = (
                    shares["same as last"] + 0.5 * shares["other past item"] + shares["new pair"] * measured[model]["new pair"])
        report["measured_by_next_kind"] = measured

    print(f"test span ({len(stream) - split.val_end} events): " +
          ", ".join(f"{k} {v:.1%}" for k, v in shares.items()))
    print(f"to reach MRR {args.target:.2f} with the last item always first (MRR 1) and every other past item "
          f"second (MRR 0.5), new pairs need MRR {report['needed_new_mrr']:.3f}")
    for model, mrrs in measured.items():
        print(f"  {model:<12} measured: " + ", ".join(f"{k} {v:.3f}" for k, v in mrrs.items()) +
              f"  -> at both ceilings with its own new-pair MRR: {report['ceiling_if_new_as_measured'][model]:.4f}")
    d = report["demotion"]
    print(f"demoting the last item where train says the previous other item is likelier ({d['flip_contexts']} of "
          f"{d['contexts']} contexts, {d['train_share_in_flip_contexts']:.1%} of train events): on test it would "
          f"flip {d['test_events_flipped']} events ({d['test_share_flipped']:.2%}), win {d['test_gained']}, "
          f"lose {d['test_lost']}: MRR change on a recency ranking {d['mrr_change_on_recency_ranking']:+.4f}")
    o = report["switch_oracle"]
    print(f"recency_pop {o['recency_pop']:.4f}; told exactly when each user stays or switches (not where): "
          f"{o['recency_pop_with_switch_oracle']:.4f} (other past item {o['oracle_mrr_other past item']:.3f}, "
          f"new pair {o['oracle_mrr_new pair']:.3f})")
    for name, r in report["unseen_item_ranking"].items():
        print(f"new pairs ranked among the user's unseen items by {name}: MRR {r['mrr_among_unseen']:.3f}, "
              f"R@10 {r['recall@10_among_unseen']:.3f}; with the last item first: {r['mrr_if_last_first']:.3f} (n={r['n']})")
    if args.plot:
        plot(args.plot, shares, measured, report["needed_new_mrr"], args.target)
        print(f"plot: {args.plot}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
