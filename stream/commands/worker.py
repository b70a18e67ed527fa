"""``streamrec worker``: run one Faust worker (consume interactions, serve recommendations and metrics)."""
from __future__ import annotations

import click

from stream.settings import Settings


def ensure_topics(settings: Settings) -> None:
    """Create the contract's topics if missing (idempotent): partitioned by user, model-updates compacted."""
    from stream.kafka_local import create_topics

    create_topics(
        settings.bootstrap,
        {
            settings.input_topic: settings.partitions,
            settings.output_topic: settings.partitions,
            settings.dlq_topic: settings.partitions,
            settings.model_topic: 1,
        },
        compacted={settings.model_topic},
    )


@click.command()
@click.option("--bootstrap", help="Kafka bootstrap servers [STREAMREC_BOOTSTRAP].")
@click.option("--app-id", help="Consumer group / Faust app id [STREAMREC_APP_ID].")
@click.option("--data-dir", type=click.Path(file_okay=False), help="State directory [STREAMREC_DATA_DIR].")
@click.option("--web-port", type=int, help="Metrics endpoint port [STREAMREC_WEB_PORT].")
@click.option("--web-host", help="Metrics endpoint interface [STREAMREC_WEB_HOST].")
@click.option("--input-topic", help="[STREAMREC_INPUT_TOPIC]")
@click.option("--output-topic", help="[STREAMREC_OUTPUT_TOPIC]")
@click.option("--dlq-topic", help="[STREAMREC_DLQ_TOPIC]")
@click.option("--model-topic", help="[STREAMREC_MODEL_TOPIC]")
@click.option("--partitions", type=int, help="[STREAMREC_PARTITIONS]")
@click.option("--model", type=click.Choice(["heuristic", "tgn"]), help="Serving model [STREAMREC_MODEL].")
@click.option("--checkpoint", help="TGN checkpoint to serve [STREAMREC_CHECKPOINT].")
@click.option("-k", "--k", "k", type=int, help="List length [STREAMREC_K].")
@click.option("--log-level", help="[STREAMREC_LOG_LEVEL]")
def worker(**options: object) -> None:
    """Run a worker: the `ingest_interactions` agent plus GET /metrics, /healthz, /recommendations/{user}.

    Start as many as the input topic has partitions; they share the work as one consumer group.
    """
    settings = Settings.resolve(**options)
    run_worker(settings)


def run_worker(settings: Settings) -> None:
    """Create topics, build the app and run it until SIGINT/SIGTERM."""
    import faust

    from stream.app import create_app

    ensure_topics(settings)
    app, _ = create_app(settings)
    click.echo(
        f"streamrec worker {settings.app_id}: {settings.bootstrap} {settings.input_topic} -> {settings.output_topic}; "
        f"metrics http://{settings.web_host}:{settings.web_port}/metrics",
        err=True,
    )
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()
