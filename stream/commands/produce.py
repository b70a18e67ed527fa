"""``streamrec produce``: replay an interaction file (or a generated scenario) into the ``interactions`` topic."""
from __future__ import annotations

from typing import Any, Iterable

import click

from graph_store.events import Interaction
from graph_store.readers import DataFormatError, count_events, read_events
from models.synthetic import generate as generate_events
from stream.commands._options import column_mapping_options, mapping_from_kwargs
from stream.commands.generate import DEFAULT_EVENTS, scenario_options
from stream.producer import ProduceError, ensure_topic, make_producer, produce_events
from stream.settings import Settings

@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Events per second (default: as fast as possible).")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Send at most N events.")
@click.option("--topic", default=None, help="Topic to write [default: STREAMREC_INPUT_TOPIC or interactions].")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers [default: STREAMREC_BOOTSTRAP or the local broker].")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar with events/s.")
@column_mapping_options
@scenario_options(events_default=None)
def produce(file: str | None, rate: float | None, limit: int | None, topic: str | None, bootstrap: str | None,
            progress: bool, scenario: str | None, n_events: int | None, seed: int, n_users: int | None,
            n_items: int | None, start_ts: float, **columns: Any) -> None:
    """Send interaction events to Kafka, keyed by user id, in file order.

    FILE is CSV, JSON lines (e.g. from `streamrec generate`) or either gzip-compressed. Columns are found
    by common names (user_id/user/src, item_id/item/dst, ts/timestamp, ...) or mapped with --user, --item,
    --ts, ...; other columns become attrs. Events without an id are sent without one (the worker then uses
    the message's Kafka coordinates as its id). Instead of FILE, --scenario generates a synthetic stream.
    The topic is created (STREAMREC_PARTITIONS partitions) if missing.

    \b
    Examples:
      streamrec produce ../shared/data/jodie-wikipedia/events.csv.gz --rate 500
      streamrec produce --scenario games --events 20000 --seed 1
    """
    mapping = mapping_from_kwargs(columns)
    if (file is None) == (scenario is None):
        raise click.UsageError("give either FILE or --scenario (not both)")
    if file is None and any(getattr(mapping, f) is not None for f in ("user", "item", "ts", "event_type", "weight", "event_id")):
        raise click.UsageError("column options (--user, --item, ...) apply to FILE only")
    if file is not None and n_events is not None:
        raise click.UsageError("--events applies to --scenario; use --limit with FILE")

    settings = Settings.resolve(bootstrap=bootstrap, input_topic=topic)
    events: Iterable[Interaction]
    if scenario is not None:
        n = n_events if n_events is not None else DEFAULT_EVENTS
        total = n if limit is None else min(n, limit)
        events = generate_events(scenario, total, seed=seed, n_users=n_users, n_items=n_items, start_ts=start_ts)
        source = f"{scenario} scenario (seed {seed})"
    else:
        try:
            total = count_events(file) if progress else None
        except FileNotFoundError as exc:
            raise click.BadParameter(str(exc), param_hint="FILE") from exc
        if total is not None and limit is not None:
            total = min(total, limit)
        events = read_events(file, mapping, limit=limit)
        source = file

    try:
        producer = make_producer(settings)  # fails fast (seconds) when no broker answers
        try:
            if ensure_topic(settings):
                click.echo(f"created topic {settings.input_topic} ({settings.partitions} partitions)", err=True)
            stats = produce_events(events, settings, rate=rate, progress=progress, total=total, producer=producer)
        finally:
            producer.close(timeout=10)
    except (ProduceError, DataFormatError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{source} -> {settings.input_topic} @ {settings.bootstrap}: {stats.summary()}", err=True)
    if stats.interrupted:
        raise SystemExit(130)  # the shell's code for Ctrl-C
    if stats.failed:
        raise SystemExit(1)
