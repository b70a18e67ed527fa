"""``streamrec demo``: the whole system on one machine, in one command.

Starts a local Apache Kafka (unless ``--bootstrap`` names one), a worker, replays a generated stream
(e-commerce or games) with a few malformed events mixed in, prints recommendations as they arrive and the
metrics URL, and stops everything cleanly on Ctrl-C.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import click

from stream.settings import Settings

BAD_EVENTS = [b"this is not json", b'{"user_id": "", "item_id": "x", "ts": 1}', b'{"user_id": "u1", "item_id": "i1", "ts": "soon"}']


def _get(url: str, timeout: float = 2.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    except Exception:
        return None


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 120.0) -> dict:
    """Poll ``/healthz`` until the worker answers and owns partitions (or fail with a clear error)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"the worker exited with code {proc.returncode} before it was healthy")
        body = _get(url)
        if body:
            health = json.loads(body)
            if health.get("partitions"):
                return health
        time.sleep(0.5)
    raise click.ClickException(f"the worker was not healthy within {timeout_s:.0f}s ({url})")


#: Trainer log lines worth showing in the demo: what each training / fine-tune decided.
TRAINER_NEWS = ("first TGN", "fine-tune:")


def follow_trainer_log(path: Path, stop: threading.Event, interval_s: float = 0.5) -> None:
    """Echo the trainer's decisions (:data:`TRAINER_NEWS` lines of its log) as they are written."""
    pos = 0
    while not stop.is_set():
        if path.exists():
            with path.open("rb") as f:
                f.seek(pos)
                chunk = f.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            pos += len(complete)
            for line in complete.decode(errors="replace").splitlines():
                for news in TRAINER_NEWS:
                    if news in line:
                        click.secho(f"[trainer] {line[line.index(news):]}", fg="yellow")
        stop.wait(interval_s)


def metric_value(metrics_text: str, name: str) -> float:
    """Sum of a metric's samples in Prometheus text (0 when absent)."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@click.command()
@click.option("--scenario", type=click.Choice(["ecommerce", "games"]), default="ecommerce", show_default=True)
@click.option("--events", "n_events", type=int, default=5000, show_default=True, help="Events to replay.")
@click.option("--rate", type=float, default=100.0, show_default=True, help="Events per second (0 = as fast as possible).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--model", type=click.Choice(["heuristic", "tgn"]), default="tgn", show_default=True,
              help="tgn also starts a trainer that fine-tunes and publishes models while the stream flows.")
@click.option("--finetune-every", type=int, default=1000, show_default=True, help="Trainer: events between fine-tunes.")
@click.option("--bootstrap", help="Use this Kafka instead of starting a local one.")
@click.option("--web-port", type=int, default=6066, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False), help="Worker state (default: a fresh temporary folder).")
@click.option("--every", type=int, default=100, show_default=True, help="Print one recommendation in this many.")
@click.option("--exit-when-done/--keep-serving", default=False, help="Stop once every event is answered (default: keep serving until Ctrl-C).")
def demo(scenario: str, n_events: int, rate: float, seed: int, model: str, finetune_every: int, bootstrap: str | None,
         web_port: int, data_dir: str | None, every: int, exit_when_done: bool) -> None:
    """Run the whole pipeline locally: Kafka, a worker, a replayed stream, live recommendations."""
    from stream.consumer import iter_recommendations
    from stream.kafka_local import LocalKafka, fetch_jars
    from stream.producer import produce_events, produce_raw
    from models.synthetic import generate

    broker = None
    worker: subprocess.Popen | None = None
    trainer: subprocess.Popen | None = None
    tmp = tempfile.mkdtemp(prefix="streamrec-demo-")
    stop_following = threading.Event()
    try:
        if bootstrap is None:
            click.secho("starting a local Apache Kafka (single node, KRaft) ...", fg="cyan")
            fetch_jars()
            broker = LocalKafka(data_dir=Path(tmp) / "kafka").start()
            bootstrap = broker.bootstrap
        settings = Settings.resolve(
            bootstrap=bootstrap, app_id=f"streamrec-demo-{int(time.time())}", web_port=web_port,
            data_dir=data_dir or str(Path(tmp) / "worker"), model=model,
        )
        click.secho(f"kafka: {bootstrap}", fg="cyan")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "stream.cli", "worker", "--bootstrap", settings.bootstrap, "--app-id", settings.app_id,
               "--data-dir", str(settings.data_dir), "--web-port", str(web_port), "--model", model]
        log_path = Path(tmp) / "worker.log"
        worker = subprocess.Popen(cmd, env=env, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://{settings.web_host}:{web_port}"
        click.secho("starting a worker ...", fg="cyan")
        try:
            health = wait_healthy(f"{base}/healthz", worker)
        except click.ClickException:
            click.echo(log_path.read_text(errors="replace")[-4000:], err=True)
            raise
        click.secho(f"worker up: partitions {health['partitions']}, model {health['model_version']}", fg="green")
        click.secho(f"metrics:  {base}/metrics   health: {base}/healthz   lists: {base}/recommendations/<user_id>?k=10", bold=True)

        if model == "tgn":
            ckpt_dir = Path(tmp) / "models"
            trainer_log = Path(tmp) / "trainer.log"
            trainer = subprocess.Popen(
                [sys.executable, "-m", "stream.cli", "trainer", "--bootstrap", settings.bootstrap, "--app-id", settings.app_id,
                 "--checkpoint-dir", str(ckpt_dir), "--finetune-every-events", str(finetune_every), "--train-epochs", "1",
                 "--finetune-every-s", "0"],
                env=env, stdout=open(trainer_log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
            )
            threading.Thread(target=follow_trainer_log, args=(trainer_log, stop_following), name="trainer-log", daemon=True).start()
            click.secho(f"trainer up: first TGN after {finetune_every} events, then a fine-tune every {finetune_every} "
                        f"(published only if validation is not worse); the worker serves the heuristic until then", fg="cyan")

        events = list(generate(scenario, n_events, seed=seed))
        def feed() -> None:
            produce_raw(BAD_EVENTS, settings)  # shows the dead-letter path in the metrics
            produce_events(events, settings, rate=rate or None, progress=False, total=len(events))
        threading.Thread(target=feed, name="producer", daemon=True).start()
        click.secho(f"replaying {n_events} generated {scenario} events at {rate or 'max'}/s (+{len(BAD_EVENTS)} malformed ones)\n", fg="cyan")

        answered, started, version = 0, time.monotonic(), None
        for rec in iter_recommendations(settings, from_beginning=True, timeout_s=120.0):
            answered += 1
            if rec.model_version != version:
                if version is not None:
                    click.secho(f"[{answered:>6}/{n_events}] model_version {version} -> {rec.model_version} "
                                f"(hot swap; the stream kept flowing)", fg="magenta", bold=True)
                version = rec.model_version
            if answered % every == 1 or answered == n_events:
                items = ", ".join(f"{i} {s:.2f}" for i, s in rec.items[:5])
                click.echo(f"[{answered:>6}/{n_events}] {rec.user_id:>8} <- {items}  ({rec.model_version})")
            if answered >= n_events:
                break
        took = time.monotonic() - started
        text = (_get(f"{base}/metrics") or b"").decode()
        click.secho(
            f"\nanswered {answered}/{n_events} events in {took:.1f}s; rejected to DLQ: "
            f"{metric_value(text, 'streamrec_events_rejected_total'):.0f}; "
            f"emitted: {metric_value(text, 'streamrec_recommendations_emitted_total'):.0f}",
            fg="green", bold=True,
        )
        if not exit_when_done:
            click.secho(f"still serving at {base}/metrics -- press Ctrl-C to stop", fg="cyan")
            while worker.poll() is None:
                time.sleep(1.0)
    except KeyboardInterrupt:
        click.echo("\nstopping ...")
    finally:
        stop_following.set()
        for proc in (trainer, worker):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if broker is not None:
            broker.stop()
        click.echo("stopped.")
