"""The README's first command, `streamrec demo`, end to end on the real broker: every event answered, the
malformed ones dead-lettered, and the trainer's first decision shown while the stream flows."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest

from tests.integration.workers import free_port

N = 2_500


@pytest.mark.kafka
def test_demo_answers_every_event_and_shows_the_trainer_deciding(bootstrap, tmp_path):
    run = uuid.uuid4().hex[:8]
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           # topics of its own on the shared test broker, so nothing else's lists are counted
           "STREAMREC_INPUT_TOPIC": f"demo-in-{run}", "STREAMREC_OUTPUT_TOPIC": f"demo-out-{run}",
           "STREAMREC_DLQ_TOPIC": f"demo-dlq-{run}", "STREAMREC_MODEL_TOPIC": f"demo-models-{run}"}
    proc = subprocess.run(
        [sys.executable, "-m", "stream.cli", "demo", "--bootstrap", bootstrap, "--events", str(N), "--rate", "100",
         "--finetune-every", "800", "--web-port", str(free_port()), "--data-dir", str(tmp_path / "worker"),
         "--every", "500", "--exit-when-done"],
        capture_output=True, text=True, timeout=420, env=env,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert f"answered {N}/{N} events" in out
    assert re.search(r"rejected to DLQ: 3;", out) and f"emitted: {N}" in out
    # the lists start with the heuristic and the trainer reports on its first model while events flow
    assert "(heuristic-v2)" in out
    decision = re.search(r"\[trainer\] first TGN on (\d+) events: val MRR ([\d.]+) vs the serving heuristic's ([\d.]+) -> (\w+)", out)
    assert decision, out[-3000:]
    assert int(decision.group(1)) >= 800
    new, heuristic = float(decision.group(2)), float(decision.group(3))  # printed to 4 decimals
    assert (new >= heuristic - 1e-4) if decision.group(4) == "published" else (new <= heuristic + 1e-4)
    published = decision.group(4) == "published"
    if published and "model_version heuristic-v2 -> tgn-" in out:
        assert re.search(r"\(tgn-\d{8}T\d{6}-\d{4}\)", out)  # later lists carry the swapped-in version
