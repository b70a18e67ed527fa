"""``streamrec train`` end to end on a tiny file: a loadable versioned checkpoint and a matching RocksDB store."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from graph_store import Interaction, MemoryGraphStore, RocksGraphStore
from models.tgn import TGNRecommender, load_checkpoint
from stream.commands.train import train


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny tensors: one thread is fastest, and on a shared 2-core box it avoids oversubscription."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_csv(path, n: int = 400, seed: int = 0) -> list[Interaction]:
    rng = np.random.default_rng(seed)
    rows, events = ["user_id,item_id,ts,price"], []
    t = 1.7e9
    for _ in range(n):
        t += float(rng.exponential(30.0))
        u, i = f"u{rng.integers(0, 15)}", f"sku-{rng.integers(0, 25)}"
        price = round(10.0 + 5.0 * (int(i[4:]) % 7), 2)
        rows.append(f"{u},{i},{t:.3f},{price}")
        events.append(Interaction(u, i, float(f"{t:.3f}"), attrs={"price": price}))
    path.write_text("\n".join(rows) + "\n")
    return events


def test_train_writes_a_checkpoint_and_a_store_that_serve_the_same_scores(tmp_path):
    data = tmp_path / "events.csv"
    events = write_csv(data)
    out, store_dir = tmp_path / "models", tmp_path / "graph"
    result = CliRunner().invoke(train, [str(data), "--out", str(out), "--epochs", "1", "--store", str(store_dir),
                                        "--threads", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    path = result.stdout.strip().splitlines()[-1]
    ckpt = load_checkpoint(path)
    assert re.fullmatch(r".*/tgn-\d{8}T\d{6}-\d{4}\.pt", path) and (out / "latest.pt").exists()
    assert ckpt.config["numeric_attrs"] == ["price"] and ckpt.window["n_events"] == len(events)
    assert 0 < ckpt.metrics["val_mrr"] <= 1 and len(ckpt.metrics["train_losses"]) == 1

    rocks = RocksGraphStore(store_dir)
    memory = MemoryGraphStore()
    memory.apply(events)
    try:
        assert (rocks.n_users, rocks.n_items) == (memory.n_users, memory.n_items)
        served = TGNRecommender.from_checkpoint(path, store=rocks)
        replica = TGNRecommender.from_checkpoint(path, store=memory)
        users, t = list(range(rocks.n_users)), events[-1].ts + 60.0
        a = served.score_many(users, [t] * len(users), rocks.n_items)
        np.testing.assert_array_equal(a, replica.score_many(users, [t] * len(users), memory.n_items))
        assert np.isfinite(a).all()
        top = served.recommend("u3", t, k=5)
        assert len(top) == 5 and all(item.startswith("sku-") for item, _ in top)
    finally:
        rocks.close()


def test_train_refuses_a_store_that_already_has_events(tmp_path):
    data = tmp_path / "events.csv"
    write_csv(data, n=120)
    store_dir = tmp_path / "graph"
    rocks = RocksGraphStore(store_dir)
    rocks.apply([Interaction("x", "y", 1.0)])
    rocks.close()
    result = CliRunner().invoke(train, [str(data), "--out", str(tmp_path / "m"), "--epochs", "0", "--store",
                                        str(store_dir), "--threads", "1", "--no-progress"])
    assert result.exit_code != 0 and "already holds" in result.output
