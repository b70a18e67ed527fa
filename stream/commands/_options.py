"""Click options shared by commands that read interaction files (``produce``, ``evaluate``, ``train``).

>>> import click
>>> @click.command()
... @column_mapping_options
... def show(**kwargs):
...     click.echo(mapping_from_kwargs(kwargs))
>>> from click.testing import CliRunner
>>> CliRunner().invoke(show, ["--user", "src", "--item", "dst"]).output.strip()
"ColumnMapping(user='src', item='dst', ts=None, event_type=None, weight=None, event_id=None)"
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

import click

from graph_store.readers import ColumnMapping

F = TypeVar("F", bound=Callable[..., Any])

#: ColumnMapping field -> (option, help). Parameters are named ``col_<field>`` to avoid clashes.
_FIELDS: dict[str, tuple[str, str]] = {
    "user": ("--user", "Column holding the user id (default: user_id, user, u, src)."),
    "item": ("--item", "Column holding the item id (default: item_id, item, i, dst)."),
    "ts": ("--ts", "Column holding the event time in seconds (default: ts, timestamp, time, t)."),
    "event_type": ("--event-type", "Column holding the event type (default: event_type, type, event)."),
    "weight": ("--weight", "Column holding the event weight (default: weight, w; else per event type)."),
    "event_id": ("--event-id", "Column holding the event id used for dedupe (default: event_id, id)."),
}


def column_mapping_options(func: F) -> F:
    """Add ``--user/--item/--ts/--event-type/--weight/--event-id`` (column names) to a click command."""
    for fld, (opt, help_text) in reversed(_FIELDS.items()):
        func = click.option(opt, f"col_{fld}", default=None, metavar="COLUMN", help=help_text)(func)
    return func


def mapping_from_kwargs(kwargs: dict[str, Any]) -> ColumnMapping:
    """The :class:`ColumnMapping` from a command's keyword arguments, removing the ``col_*`` keys."""
    return ColumnMapping(**{fld: kwargs.pop(f"col_{fld}", None) for fld in _FIELDS})
