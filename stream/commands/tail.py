"""``streamrec tail``: follow the ``recommendations`` topic, as readable lines or JSON lines."""
from __future__ import annotations

import json
import os
import sys
import time

import click

from stream.consumer import ConsumeError, iter_recommendations
from stream.records import Recommendation
from stream.settings import Settings


def format_recommendation(rec: Recommendation, now: float, top: int = 5) -> str:
    """One readable line: user, event, age of the list, model version, top items with scores.

    >>> r = Recommendation("u1", [("a", 0.91), ("b", 0.5)], 10, "tgn-1", "e-7", 100.0, 100.25)
    >>> format_recommendation(r, now=101.25)
    'u1  e-7  age 1.00s  tgn-1  a 0.910, b 0.500'
    """
    items = ", ".join(f"{item} {score:.3f}" for item, score in rec.items[:top])
    if len(rec.items) > top:
        items += f", ... ({len(rec.items)})"
    return f"{rec.user_id}  {rec.event_id}  age {_age(now - rec.emitted_at)}  {rec.model_version}  {items}"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.2f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print each message as a JSON line (the wire format).")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest message (default: only new ones).")
@click.option("--max", "max_messages", type=click.IntRange(min=1), default=None, help="Stop after N messages.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0), default=None,
              help="Stop after S seconds without a message (default: wait forever).")
@click.option("--user", "users", multiple=True, help="Only this user's lists (repeatable).")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="Items shown per line.")
@click.option("--topic", default=None, help="Topic to read [default: STREAMREC_OUTPUT_TOPIC or recommendations].")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers [default: STREAMREC_BOOTSTRAP or the local broker].")
@click.option("--group", "group_id", default=None,
              help="Consumer group (commits offsets, resumes where it left off); default: none.")
def tail(as_json: bool, from_beginning: bool, max_messages: int | None, timeout_s: float | None,
         users: tuple[str, ...], top: int, topic: str | None, bootstrap: str | None, group_id: str | None) -> None:
    """Print recommendation lists as the workers emit them (Ctrl-C to stop).

    Each line shows the user, the event that triggered the list, how long ago the list was emitted, the
    model version and the top items with their scores.
    """
    settings = Settings.resolve(bootstrap=bootstrap, output_topic=topic)
    wanted = set(users)
    n = 0
    try:
        for rec in iter_recommendations(settings, group_id=group_id, from_beginning=from_beginning,
                                        timeout_s=timeout_s):
            if wanted and rec.user_id not in wanted:
                continue
            if as_json:
                click.echo(json.dumps(rec.to_wire(), separators=(",", ":")))
            else:
                click.echo(format_recommendation(rec, time.time(), top))
            n += 1
            if max_messages is not None and n >= max_messages:
                break
    except ConsumeError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `streamrec tail | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    if not as_json:
        click.echo(f"{n:,} lists from {settings.output_topic}", err=True)
