"""``streamrec trainer``: follow the stream, fine-tune the TGN periodically, publish models to the workers."""
from __future__ import annotations

import logging

import click

from stream.settings import Settings


@click.command()
@click.option("--bootstrap", help="[STREAMREC_BOOTSTRAP]")
@click.option("--app-id", help="Workers' app id; the trainer's group is <app-id>-trainer [STREAMREC_APP_ID].")
@click.option("--input-topic", help="[STREAMREC_INPUT_TOPIC]")
@click.option("--model-topic", help="[STREAMREC_MODEL_TOPIC]")
@click.option("--checkpoint", help="Start from this checkpoint (e.g. from `streamrec train`) [STREAMREC_CHECKPOINT].")
@click.option("--checkpoint-dir", type=click.Path(file_okay=False), help="[STREAMREC_CHECKPOINT_DIR]")
@click.option("--finetune-every-events", type=int, help="[STREAMREC_FINETUNE_EVERY_EVENTS]")
@click.option("--finetune-every-s", type=float, help="[STREAMREC_FINETUNE_EVERY_S]")
@click.option("--finetune-window", type=int, help="[STREAMREC_FINETUNE_WINDOW]")
@click.option("--train-epochs", type=int, help="[STREAMREC_TRAIN_EPOCHS]")
@click.option("--device", help="[STREAMREC_DEVICE]")
@click.option("--max-events", type=int, default=None, help="Stop after this many events (default: run until Ctrl-C).")
@click.option("--idle-exit", type=float, default=None, help="Stop after this many seconds without events.")
def trainer(max_events: int | None, idle_exit: float | None, **options: object) -> None:
    """Train the TGN on the live stream and publish each improved model to `model-updates`."""
    from stream.commands.worker import ensure_topics
    from stream.trainer import run_trainer

    settings = Settings.resolve(**options)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ensure_topics(settings)
    click.echo(f"streamrec trainer: {settings.bootstrap} {settings.input_topic} -> {settings.model_topic}; "
               f"checkpoints in {settings.checkpoint_dir}", err=True)
    try:
        stats = run_trainer(settings, max_events=max_events, idle_exit_s=idle_exit,
                            on_publish=lambda v: click.echo(f"published {v}", err=True))
    except KeyboardInterrupt:
        return
    click.echo(f"trainer done: {stats.events} events, {stats.finetunes} fine-tunes, published {stats.published}", err=True)
