"""Versioned TGN checkpoints: one file with config, weights, memory state and provenance.

Written atomically (a temp file in the same directory, then ``os.replace``) so a reader never sees half
a checkpoint; read with ``torch.load(weights_only=True)`` so loading a file cannot run code. Everything
inside is tensors, numbers, strings, lists and dicts.

>>> import re
>>> bool(re.fullmatch(r"tgn-\\d{8}T\\d{6}-\\d{4}", new_version()))
True
"""
from __future__ import annotations

import itertools
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

#: Format of what :func:`save_checkpoint` writes; bumped on incompatible changes.
FORMAT = 1
_counter = itertools.count(1)


def new_version(now: float | None = None, seq: int | None = None) -> str:
    """A model version ``tgn-YYYYmmddTHHMMSS-NNNN`` (UTC time, then a per-process sequence number).

    >>> new_version(0.0, 7)
    'tgn-19700101T000000-0007'
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"tgn-{stamp}-{(next(_counter) if seq is None else seq) % 10_000:04d}"


@dataclass
class Checkpoint:
    """What a served model is: hyperparameters, weights, state, and where it came from.

    ``window`` describes the training data (e.g. ``first_ts``, ``last_ts``, ``n_events``, ``source``);
    ``metrics`` holds figures measured for this version (e.g. ``train_loss``, ``val_mrr``).
    """

    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    memory_state: dict[str, Any]
    version: str
    created_at: float
    window: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT

    def info(self) -> dict[str, Any]:
        """The ``model-updates`` message: version, created_at, training window, metrics."""
        return {"version": self.version, "created_at": self.created_at, "window": self.window, "metrics": self.metrics}


def save_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` to ``path`` atomically (parent directories are created)."""
    return atomic_torch_save(path, asdict(ckpt))


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save(obj)`` to ``path`` via a synced temp file and ``os.replace``: readers see the old file or
    the new one, never half of one (parent directories are created; the file is world-readable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; workers on a shared volume must read it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code runs)."""
    raw = torch.load(path, map_location=map_location, weights_only=True)
    if raw.get("format") != FORMAT:
        raise ValueError(f"{path}: checkpoint format {raw.get('format')!r}, expected {FORMAT}")
    return Checkpoint(**raw)
