"""One settings object, resolved once at the edge: argument, then environment variable, then default.

Every field documents its environment variable (``STREAMREC_<NAME>``); ``streamrec worker --help`` and
the README list them. Nothing below the edge reads the environment.

>>> s = Settings.resolve(k=5, env={"STREAMREC_K": "20", "STREAMREC_PARTITIONS": "8"})
>>> s.k, s.partitions          # the argument wins over the environment, the environment over the default
(5, 8)
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "STREAMREC_"


def _f(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of producers, workers, trainer and tools."""

    bootstrap: str = _f("", "Kafka bootstrap servers. Default: the broker `streamrec kafka start` recorded, else 127.0.0.1:9092.")
    input_topic: str = _f("interactions", "Topic of interaction events (input).")
    output_topic: str = _f("recommendations", "Topic of recommendation lists (output).")
    dlq_topic: str = _f("interactions.dlq", "Dead-letter topic for rejected events.")
    model_topic: str = _f("model-updates", "Compacted topic announcing published models.")
    partitions: int = _f(4, "Partitions of the input/output topics when streamrec creates them.")
    app_id: str = _f("streamrec", "Faust app id = Kafka consumer group of the workers.")
    data_dir: Path = _f(Path("var/streamrec"), "Where each worker keeps its RocksDB graph and checkpoints.")
    web_host: str = _f("127.0.0.1", "Interface of the metrics / health / recommendations endpoint.")
    web_port: int = _f(6066, "Port of the metrics endpoint (GET /metrics, /healthz, /recommendations/{user}).")
    k: int = _f(10, "Length of each recommendation list.")
    batch_size: int = _f(200, "Events applied per micro-batch (at most).")
    batch_timeout_s: float = _f(0.05, "Longest wait to fill a micro-batch, seconds.")
    lateness_s: float = _f(86400.0, "Out-of-order tolerance: events older than the user's latest by more are still applied but counted late.")
    model: str = _f("heuristic", "Serving model: heuristic (recent items + popularity + co-occurrence) or tgn.")
    checkpoint: str = _f("", "TGN checkpoint to serve at start (default: the latest announced on the model topic).")
    checkpoint_dir: Path = _f(Path("var/streamrec/models"), "Where the trainer writes checkpoints; workers load them from here (shared volume).")
    finetune_every_events: int = _f(5000, "Trainer: fine-tune after this many new events (0 = never); also the events a first model is trained on.")
    finetune_every_s: float = _f(600.0, "Trainer: ... or after this many seconds with new events (0 = never).")
    finetune_window: int = _f(20000, "Trainer: recent events a fine-tune learns from (the newest 20% validate).")
    train_epochs: int = _f(3, "Trainer: epochs of the first training when no checkpoint exists.")
    popularity_tau_s: float = _f(86400.0, "Decay scale of item popularity, seconds of event time.")
    max_message_bytes: int = _f(65536, "Largest accepted input message; larger ones go to the DLQ.")
    device: str = _f("auto", "Torch device: auto (GPU when present), cpu, cuda.")
    seed: int = _f(0, "Random seed for models and generators.")
    log_level: str = _f("info", "Log level of the worker.")

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings: explicit non-None ``overrides`` first, then ``STREAMREC_*`` env, then defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            if overrides.get(f.name) is not None:
                values[f.name] = _coerce(f, overrides[f.name])
            elif (ENV_PREFIX + f.name.upper()) in env:
                values[f.name] = _coerce(f, env[ENV_PREFIX + f.name.upper()])
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        settings = cls(**values)
        if not settings.bootstrap:
            settings = dataclasses.replace(settings, bootstrap=_default_bootstrap())
        return settings

    @classmethod
    def describe(cls) -> list[tuple[str, str, str, str]]:
        """(field, environment variable, default, help) for every setting: the README table."""
        return [
            (f.name, ENV_PREFIX + f.name.upper(), str(f.default), f.metadata["help"]) for f in fields(cls)
        ]


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    default = f.default
    try:
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, Path):
            return Path(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"setting {f.name} ({ENV_PREFIX + f.name.upper()}): cannot use {value!r}: {exc}") from exc
    return str(value)


def _default_bootstrap() -> str:
    """The local broker started by `streamrec kafka start`, if one is running; else the Kafka default."""
    try:
        from stream.kafka_local import running_bootstrap
    except ImportError:  # pragma: no cover - kafka_local is part of the package
        return "127.0.0.1:9092"
    return running_bootstrap() or "127.0.0.1:9092"
