"""Read interaction files (CSV, gzip CSV, JSON lines, gzip JSON lines) into :class:`Interaction` records.

One reader and one column mapping serve ``streamrec produce`` (replay into Kafka), ``streamrec evaluate``
and ``streamrec train``, so what is evaluated is what is replayed.

>>> import io, tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "e.csv")
>>> _ = open(p, "w").write("user,item,ts,price\\n1,a,0.5,9.9\\n2,b,1.0,\\n")
>>> [(e.user_id, e.item_id, e.ts, dict(e.attrs)) for e in read_events(p)]
[('1', 'a', 0.5, {'price': 9.9}), ('2', 'b', 1.0, {})]
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

from graph_store.events import DEFAULT_EVENT_WEIGHTS, Interaction

#: Column names tried, in order, when a mapping field is left as None.
_CANDIDATES = {
    "user": ("user_id", "user", "u", "src"),
    "item": ("item_id", "item", "i", "dst"),
    "ts": ("ts", "timestamp", "time", "t"),
    "event_type": ("event_type", "type", "event"),
    "weight": ("weight", "w"),
    "event_id": ("event_id", "id"),
}


class DataFormatError(ValueError):
    """A data file cannot be read as interactions (with the file, line and reason)."""


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of the file holds each field; None = guess from common names.

    Columns not mapped to a field become ``attrs`` (numbers where they parse as numbers).
    """

    user: str | None = None
    item: str | None = None
    ts: str | None = None
    event_type: str | None = None
    weight: str | None = None
    event_id: str | None = None

    def resolve(self, columns: list[str]) -> dict[str, str | None]:
        """Field -> column name for a file with these columns; raises if user/item/ts are missing."""
        out: dict[str, str | None] = {}
        for fld, cands in _CANDIDATES.items():
            explicit = getattr(self, fld)
            if explicit is not None:
                if explicit not in columns:
                    raise DataFormatError(f"column {explicit!r} (for {fld}) not in {columns}")
                out[fld] = explicit
            else:
                out[fld] = next((c for c in cands if c in columns), None)
        missing = [f for f in ("user", "item", "ts") if out[f] is None]
        if missing:
            raise DataFormatError(f"no column for {missing} among {columns}; map them with --user/--item/--ts")
        return out


def detect_format(path: str | Path) -> str:
    """``'csv'`` or ``'jsonl'`` from the file name (``.gz`` ignored).

    >>> detect_format("x.csv.gz"), detect_format("y.jsonl"), detect_format("z.ndjson")
    ('csv', 'jsonl', 'jsonl')
    """
    name = str(path).lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "csv"


def _open_text(path: str | Path) -> IO[str]:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"data file not found: {p}")
    with open(p, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", newline="")
    return open(p, "r", encoding="utf-8", newline="")


def _number(value: Any) -> Any:
    """A CSV cell as int/float when it parses as a finite number, else the original string."""
    if not isinstance(value, str):
        return value
    try:
        f = float(value)
    except ValueError:
        return value
    if not math.isfinite(f):
        return value
    return int(f) if f.is_integer() and "." not in value and "e" not in value.lower() else f


def _to_interaction(row: dict[str, Any], cols: dict[str, str | None], where: str) -> Interaction:
    try:
        ts = float(row[cols["ts"]])
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"{where}: ts {row.get(cols['ts'])!r} is not a number") from exc
    if not math.isfinite(ts):
        raise DataFormatError(f"{where}: ts is not finite")
    user, item = row.get(cols["user"]), row.get(cols["item"])
    if user in (None, "") or item in (None, ""):
        raise DataFormatError(f"{where}: empty user or item")
    event_type = str(row.get(cols["event_type"]) or "interaction") if cols["event_type"] else "interaction"
    raw_w = row.get(cols["weight"]) if cols["weight"] else None
    if raw_w in (None, ""):
        weight = DEFAULT_EVENT_WEIGHTS.get(event_type, 1.0)
    else:
        try:
            weight = float(raw_w)
        except (TypeError, ValueError) as exc:
            raise DataFormatError(f"{where}: weight {raw_w!r} is not a number") from exc
    event_id = row.get(cols["event_id"]) if cols["event_id"] else None
    used = {c for c in cols.values() if c}
    attrs = {k: _number(v) for k, v in row.items() if k not in used and v not in (None, "") and k is not None}
    if "attrs" in attrs and isinstance(attrs["attrs"], dict):  # JSON lines in the wire format
        nested = attrs.pop("attrs")
        attrs.update(nested)
    return Interaction(
        user_id=str(user),
        item_id=str(item),
        ts=ts,
        event_type=event_type,
        weight=weight,
        event_id=None if event_id in (None, "") else str(event_id),
        attrs=attrs,
    )


def read_events(
    path: str | Path,
    mapping: ColumnMapping | None = None,
    *,
    fmt: str | None = None,
    limit: int | None = None,
) -> Iterator[Interaction]:
    """Yield interactions from ``path`` in file order (CSV/JSON lines, optionally gzip-compressed)."""
    mapping = mapping or ColumnMapping()
    fmt = fmt or detect_format(path)
    with _open_text(path) as fh:
        if fmt == "csv":
            reader = csv.DictReader(fh)
            cols = mapping.resolve(list(reader.fieldnames or []))
            rows: Iterator[tuple[int, dict[str, Any]]] = ((n + 2, r) for n, r in enumerate(reader))
        elif fmt == "jsonl":
            rows = _json_rows(fh, path)
            first = next(rows, None)
            if first is None:
                return
            cols = mapping.resolve(list(first[1].keys()))
            rows = _chain(first, rows)
        else:
            raise DataFormatError(f"unknown format {fmt!r} (csv or jsonl)")
        for count, (line, row) in enumerate(rows):
            if limit is not None and count >= limit:
                return
            yield _to_interaction(row, cols, f"{path}:{line}")


def count_events(path: str | Path) -> int:
    """Number of data rows (for progress bars), without parsing them."""
    with _open_text(path) as fh:
        n = sum(1 for line in fh if line.strip())
    return n - 1 if detect_format(path) == "csv" else n


def _json_rows(fh: IO[str], path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}:{n}: not JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise DataFormatError(f"{path}:{n}: not a JSON object")
        yield n, obj


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
