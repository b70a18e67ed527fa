"""The ``streamrec`` console script: one click group; each subcommand lives in ``stream/commands/``."""
from __future__ import annotations

import importlib

import click

# (module, attribute) of each subcommand; imported lazily so `streamrec --help` stays fast and one
# broken optional part cannot take the whole CLI down.
_COMMANDS: dict[str, tuple[str, str]] = {}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _COMMANDS:
            module, attr = _COMMANDS[name]
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="streamrec")
def main() -> None:
    """streamrec: a streaming, incremental recommender on a temporal graph network."""


def register(name: str, module: str, attr: str) -> None:
    """Make ``streamrec NAME`` run ``module.attr`` (a click command)."""
    _COMMANDS[name] = (module, attr)


register("kafka", "stream.commands.kafka", "kafka")
register("produce", "stream.commands.produce", "produce")
register("tail", "stream.commands.tail", "tail")
register("generate", "stream.commands.generate", "generate")
register("evaluate", "stream.commands.evaluate", "evaluate")
register("train", "stream.commands.train", "train")
register("worker", "stream.commands.worker", "worker")
register("trainer", "stream.commands.trainer", "trainer")
register("demo", "stream.commands.demo", "demo")

if __name__ == "__main__":  # pragma: no cover
    main()
