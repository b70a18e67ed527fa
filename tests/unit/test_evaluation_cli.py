"""``streamrec evaluate`` as a user runs it, on a small generated file: table, JSON, PNG, options."""
from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from graph_store.readers import ColumnMapping, read_events
from models.baselines import BASELINES
from models.evaluation.protocol import encode, prequential, split_by_count, warm_up
from stream.commands.evaluate import evaluate


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """400 events: 30 users who mostly revisit their own 3 items, some drifting popularity."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("data") / "events.csv.gz"
    t = 0.0
    lines = ["src,dst,time,kind"]
    for _ in range(400):
        u = int(rng.integers(0, 30))
        item = u % 7 * 3 + int(rng.integers(0, 3)) if rng.random() < 0.8 else int(rng.integers(0, 40))
        t += float(rng.exponential(300.0))
        lines.append(f"user{u},item{item},{t:.1f},view")
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def run(args):
    return CliRunner().invoke(evaluate, [str(a) for a in args], catch_exceptions=False)


def test_table_json_and_plot(data_file, tmp_path):
    out_json, out_png = tmp_path / "r.json", tmp_path / "r.png"
    res = run([data_file, "--models", "pop,recency_pop,edgebank", "--user", "src", "--item", "dst", "--ts", "time",
               "--json", out_json, "--plot", out_png, "--windows", "4", "--k", "5", "--no-progress"])
    assert res.exit_code == 0, res.output
    for name in ("pop", "recency_pop", "edgebank", "MRR", "R@5", "MRR rep"):
        assert name in res.output
    report = json.loads(out_json.read_text())
    assert report["data"]["sha256"] == hashlib.sha256(data_file.read_bytes()).hexdigest()
    assert report["data"]["n_events"] == 400
    split = report["split"]
    assert (split["train"], split["val"], split["test"]) == ([0, 280], [280, 340], [340, 400])
    assert report["config"]["mapping"]["user"] == "src" and report["config"]["k"] == 5
    pop = report["models"]["pop"]
    assert len(pop["selection"]) == len(BASELINES["pop"].param_grid())
    best = max(pop["selection"], key=lambda c: c["val"]["mrr"])
    assert pop["params"] == best["params"]
    for name, m in report["models"].items():
        test = m["test"]
        assert test["overall"]["n"] == 60 and test["repeat"]["n"] + test["new"]["n"] == 60
        assert len(test["windows"]) == 4 and sum(w["n"] for w in test["windows"]) == 60
        assert 0 < test["overall"]["mrr"] <= 1 and "recall@5" in test["overall"]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_figures_come_from_the_library_code_path(data_file, tmp_path):
    out_json = tmp_path / "r.json"
    res = run([data_file, "--models", "recency_pop", "--user", "src", "--item", "dst", "--ts", "time",
               "--json", out_json, "--no-progress"])
    assert res.exit_code == 0, res.output
    stream = encode(read_events(data_file, ColumnMapping(user="src", item="dst", ts="time")))
    split = split_by_count(len(stream))
    model = BASELINES["recency_pop"]()
    warm_up(model, stream, 0, split.val_end)
    expected = float(np.mean(1.0 / prequential(model, stream, split.val_end).ranks))
    report = json.loads(out_json.read_text())
    assert report["models"]["recency_pop"]["test"]["overall"]["mrr"] == pytest.approx(expected)


def test_limit_and_fractions(data_file, tmp_path):
    out_json = tmp_path / "r.json"
    res = run([data_file, "--models", "edgebank", "--user", "src", "--item", "dst", "--ts", "time", "--limit", "100",
               "--val-frac", "0.2", "--test-frac", "0.1", "--json", out_json, "--no-progress"])
    assert res.exit_code == 0, res.output
    report = json.loads(out_json.read_text())
    assert report["split"]["train"] == [0, 70] and report["split"]["test"] == [90, 100]


def test_bad_input_is_reported_not_raised(data_file, tmp_path):
    res = CliRunner().invoke(evaluate, [str(data_file), "--models", "pop,nope", "--user", "src", "--item", "dst",
                                        "--ts", "time"])
    assert res.exit_code == 2 and "nope" in res.output
    odd = tmp_path / "odd.csv"
    odd.write_text("who,what,when\na,x,1\n")
    res = CliRunner().invoke(evaluate, [str(odd), "--models", "pop"])  # columns not found by name
    assert res.exit_code == 1 and "--user" in res.output
    res = CliRunner().invoke(evaluate, [str(odd), "--user", "who", "--item", "what", "--ts", "when", "--models", "pop"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(evaluate, [str(data_file), "--val-frac", "0.6", "--test-frac", "0.5"])
    assert res.exit_code == 2
