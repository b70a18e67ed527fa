"""``streamrec kafka fetch|start|stop|status``: a real local single-node Apache Kafka, no Docker.

``start`` runs the broker in the background (it outlives the command) and records it in a state file, so
``status``, ``stop`` and every other ``streamrec`` command find it; ``start --foreground`` keeps it attached
to the terminal until Ctrl-C. The work is done by :mod:`stream.kafka_local`; this module only talks.
"""
from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType

import click

from stream import kafka_local as kl


def _fail(message: str) -> click.ClickException:
    return click.ClickException(message)


@click.group()
def kafka() -> None:
    """Run a real local single-node Apache Kafka (KRaft) from its Maven jars.

    Needs `java` (17+) and `mvn`; the jars are resolved once into ~/.cache/streamrec (see `fetch`).
    """


@kafka.command()
@click.option("-q", "--quiet", is_flag=True, help="Print only the jar folder.")
def fetch(quiet: bool) -> None:
    """Resolve the broker's jars with Maven (once; later runs return at once)."""
    try:
        libs = kl.fetch_jars(quiet=quiet)
    except kl.KafkaSetupError as exc:
        raise _fail(str(exc)) from exc
    click.echo(str(libs) if quiet else f"Kafka {kl.KAFKA_VERSION} jars ready in {libs}")


@kafka.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Broker port on 127.0.0.1 [default: a free one].")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep topics here across restarts [default: a temporary folder removed on stop].")
@click.option("--foreground", is_flag=True, help="Stay attached; Ctrl-C stops the broker cleanly.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=1), default=90, show_default=True,
              help="Seconds to wait for the broker to serve.")
def start(port: int | None, data_dir: Path | None, foreground: bool, wait_s: float) -> None:
    """Start a broker (in the background unless --foreground) and record it for status/stop."""
    if foreground:
        _run_foreground(port, data_dir, wait_s)
        return
    began = time.monotonic()
    try:
        state, started = kl.start_background(port=port, data_dir=data_dir, wait_s=wait_s)
    except (kl.KafkaSetupError, kl.KafkaStartError) as exc:
        raise _fail(str(exc)) from exc
    if not started:
        click.echo(f"Kafka already running at {state['bootstrap']} (pid {state['pid']}); "
                   "`streamrec kafka stop` first to restart it.")
        return
    took = time.monotonic() - began
    click.echo(f"Kafka {state['version']} running at {state['bootstrap']} (pid {state['pid']}, "
               f"ready in {took:.1f} s)\n  data: {state['data_dir']}\n  log:  {state['log']}\n"
               "streamrec commands use it by default; `streamrec kafka stop` stops it.")


def _run_foreground(port: int | None, data_dir: Path | None, wait_s: float) -> None:
    if kl.running_bootstrap() is not None:
        raise _fail(f"a broker is already recorded at {kl.running_bootstrap()}: `streamrec kafka stop` it first")

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # SIGTERM to this CLI: shut the broker down as Ctrl-C does

    previous = signal.signal(signal.SIGTERM, _terminate)
    broker = kl.LocalKafka(port=port, data_dir=data_dir)
    try:
        try:
            broker.start(wait_s=wait_s)
        except (kl.KafkaSetupError, kl.KafkaStartError) as exc:
            raise _fail(str(exc)) from exc
        kl.write_state(kl.broker_state(broker, remove_data_dir=False))
        click.echo(f"Kafka {broker.version} running at {broker.bootstrap} (pid {broker.pid})\n"
                   f"  data: {broker.data_dir}\n  log:  {broker.log_path}\nCtrl-C to stop.")
        while broker.is_running():
            time.sleep(0.5)
        if broker.exit_code not in (0, 143, -signal.SIGTERM):  # 143: stopped by `streamrec kafka stop`
            raise _fail(f"Kafka broker exited with code {broker.exit_code}\n{broker.log_tail()}")
        click.echo("Kafka broker stopped.")
    except KeyboardInterrupt:
        click.echo("\nStopping Kafka ...")
    finally:
        broker.stop()
        state = kl.read_state()
        if state is not None and broker.pid is not None and state.get("pid") == broker.pid:
            kl.clear_state()
        signal.signal(signal.SIGTERM, previous)


@kafka.command()
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=20, show_default=True,
              help="Seconds to wait for a clean shutdown before killing the broker.")
def stop(timeout_s: float) -> None:
    """Stop the recorded broker and remove its temporary data."""
    alive = kl.running_bootstrap() is not None
    try:
        state = kl.stop_background(timeout=timeout_s)
    except RuntimeError as exc:
        raise _fail(str(exc)) from exc
    if state is None:
        click.echo("Kafka: not running (nothing recorded).")
    elif alive:
        click.echo(f"Stopped Kafka at {state['bootstrap']} (pid {state['pid']}).")
    else:
        click.echo(f"Kafka: was not running (pid {state['pid']} had exited); removed the stale record.")


@kafka.command()
def status() -> None:
    """Say whether the recorded broker runs, where, and its topics (exit code 1 when not running)."""
    state = kl.read_state()
    if state is None:
        click.echo(f"Kafka: not running (nothing recorded in {kl.state_path()}).")
        raise SystemExit(1)
    if kl.running_bootstrap() is None:
        click.echo(f"Kafka: not running (recorded pid {state['pid']} has exited; `streamrec kafka stop` "
                   "removes the record).")
        raise SystemExit(1)
    up = time.time() - float(state.get("started_at") or time.time())
    click.echo(f"Kafka: running\n  bootstrap: {state['bootstrap']}\n  pid:       {state['pid']}\n"
               f"  version:   {state.get('version')}\n  up:        {up:.0f} s\n"
               f"  data:      {state.get('data_dir')}\n  log:       {state.get('log')}")
    try:
        topics = kl.list_topics(state["bootstrap"], timeout_s=5)
    except Exception as exc:  # the broker may be busy or shutting down: status still answers
        click.echo(f"  topics:    unavailable ({exc.__class__.__name__}: {exc})")
        return
    click.echo(f"  topics:    {', '.join(topics) if topics else '(none)'}")
