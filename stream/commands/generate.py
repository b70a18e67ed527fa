"""``streamrec generate``: write a synthetic scenario as JSON lines in the ``interactions`` wire format."""
from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path
from typing import IO

import click

from models.synthetic import DEFAULT_START_TS, SCENARIOS, generate as generate_events
from stream.records import event_to_wire

#: Events generated when ``--events`` is not given.
DEFAULT_EVENTS = 100_000


def scenario_options(events_default: int | None):
    """``--scenario/--events/--seed/--n-users/--n-items/--start-ts`` shared by ``generate`` and ``produce``."""

    def decorate(f):
        for opt in reversed([
            click.option("--scenario", type=click.Choice(sorted(SCENARIOS)),
                         default=None if events_default is None else "ecommerce", show_default=True,
                         help="Synthetic scenario (see models/synthetic.py)."),
            click.option("--events", "n_events", type=click.IntRange(min=0), default=events_default,
                         show_default=events_default is not None,
                         help="Number of events to generate." + (f" [default: {DEFAULT_EVENTS}]" if events_default is None else "")),
            click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same stream)."),
            click.option("--n-users", "n_users", type=click.IntRange(min=1), default=None,
                         help="Number of users [default: events / 40]."),
            click.option("--n-items", "n_items", type=click.IntRange(min=2), default=None,
                         help="Number of items [default: events / 100]."),
            click.option("--start-ts", type=float, default=DEFAULT_START_TS, show_default=True,
                         help="Event time (epoch seconds) the stream starts at."),
        ]):
            f = opt(f)
        return f

    return decorate


def _open_out(out: str) -> IO[str]:
    if out == "-":
        return sys.stdout
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        return gzip.open(path, "wt", encoding="utf-8")
    return open(path, "w", encoding="utf-8")


@click.command()
@scenario_options(events_default=DEFAULT_EVENTS)
@click.option("--out", "-o", default="-", show_default=True,
              help="Output file (.jsonl, or .jsonl.gz to compress); - for stdout.")
def generate(scenario: str, n_events: int, seed: int, n_users: int | None, n_items: int | None,
             start_ts: float, out: str) -> None:
    """Write a synthetic interaction stream (e-commerce or games) as JSON lines.

    The lines are `interactions` messages, so `streamrec produce FILE` replays them and
    `streamrec evaluate FILE` scores models on them.

    \b
    Example:
      streamrec generate --scenario games --events 50000 --seed 1 --out games.jsonl.gz
    """
    events = generate_events(scenario, n_events, seed=seed, n_users=n_users, n_items=n_items, start_ts=start_ts)
    fh = _open_out(out)
    n = 0
    try:
        for ev in events:
            fh.write(json.dumps(event_to_wire(ev), separators=(",", ":")))
            fh.write("\n")
            n += 1
        fh.flush()
    except BrokenPipeError:  # `streamrec generate | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    finally:
        if fh is not sys.stdout:
            fh.close()
    if out != "-":
        click.echo(f"wrote {n:,} {scenario} events (seed {seed}) to {out}", err=True)
