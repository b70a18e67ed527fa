"""docker-compose.yml, checked offline (no Docker engine here): against the Compose Specification schema
(the copy the docker-compose 1.29.2 wheel ships; ``make test`` fetches it into ``~/.cache/streamrec`` and
names it in ``STREAMREC_COMPOSE_SCHEMA``) and against the code it runs: real
``streamrec`` subcommands with options they accept, real settings, every worker scraped by Prometheus."""
from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import click
import jsonschema
import pytest
import yaml

from stream.cli import main
from stream.kafka_local import KAFKA_VERSION
from stream.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # PyYAML applies `<<` merge keys
SERVICES: dict = COMPOSE["services"]
STREAMREC_IMAGE = "streamrec:local"


def _interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` / ``${VAR}`` with an empty host environment."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", str(value))


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: _interpolate(v) for k, v in env.items()}


def _streamrec_services() -> dict[str, dict]:
    return {name: s for name, s in SERVICES.items() if s.get("image") == STREAMREC_IMAGE or "build" in s}


def _workers() -> dict[str, dict]:
    return {name: s for name, s in _streamrec_services().items() if s["command"][:2] == ["streamrec", "worker"]}


SCHEMA = Path(os.environ.get("STREAMREC_COMPOSE_SCHEMA", Path.home() / ".cache/streamrec/compose-spec/compose_spec.json"))


def test_compose_file_validates_against_the_compose_spec():
    if not SCHEMA.exists():
        pytest.fail(f"Compose schema not found at {SCHEMA}: run the tests with `make test`, which fetches it")
    schema = json.loads(SCHEMA.read_text())
    assert "2019-09" in schema["$schema"]  # the dialect this copy of the spec is written in
    jsonschema.Draft201909Validator.check_schema(schema)
    validator = jsonschema.Draft201909Validator(schema)
    validator.validate(COMPOSE)
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["kafka"]["imagee"] = "typo"  # the schema is live: an unknown key is rejected
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_references_between_services_and_volumes_resolve():
    for name, service in SERVICES.items():
        for dep in service.get("depends_on") or {}:
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in (COMPOSE.get("volumes") or {}), f"{name} uses undeclared volume {source}"
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file()


def test_every_streamrec_service_runs_a_real_subcommand_with_valid_options():
    services = _streamrec_services()
    assert len(_workers()) >= 2
    ctx = click.Context(main)
    for name, service in services.items():
        command = service["command"]
        assert command[0] == "streamrec", f"{name} runs the streamrec image but not streamrec"
        sub = main.get_command(ctx, command[1])  # imports the module: a registered name alone is not enough
        assert sub is not None, f"{name}: no subcommand {command[1]!r}"
        sub.make_context(command[1], list(command[2:]))  # parses the options; raises on unknown ones


def test_every_streamrec_variable_is_a_setting_and_resolves():
    known = {env for _, env, _, _ in Settings.describe()}
    for name, service in SERVICES.items():
        env = _env(service)
        ours = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
        assert set(ours) <= known, f"{name}: unknown settings {set(ours) - known}"
        if ours:
            Settings.resolve(env=ours)  # every value coerces to its field's type


def test_topics_and_broker_agree_with_the_contract():
    kafka_env = _env(SERVICES["kafka"])
    defaults = Settings.resolve(env={})
    for name, service in _streamrec_services().items():
        settings = Settings.resolve(env=_env(service))
        assert settings.bootstrap in kafka_env["KAFKA_ADVERTISED_LISTENERS"], name
        for topic in ("input_topic", "output_topic", "dlq_topic", "model_topic"):
            assert getattr(settings, topic) == getattr(defaults, topic), (name, topic)
    # the one-shot init creates every topic the workers use, from the same variables
    init = SERVICES["topic-init"]
    script = "\n".join(init["command"])
    for var in ("STREAMREC_INPUT_TOPIC", "STREAMREC_OUTPUT_TOPIC", "STREAMREC_DLQ_TOPIC", "STREAMREC_MODEL_TOPIC"):
        assert f"$${var}" in script and var in _env(init)
    assert "cleanup.policy=compact" in script
    for worker in _workers().values():
        assert worker["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"


def test_images_are_pinned_and_kafka_matches_the_local_broker():
    for name, service in SERVICES.items():
        image = service.get("image", "")
        if image != STREAMREC_IMAGE:
            assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned image {image}"
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert SERVICES["topic-init"]["image"] == SERVICES["kafka"]["image"]


def test_prometheus_scrapes_every_worker():
    prometheus = SERVICES["prometheus"]
    mount = next(v for v in prometheus["volumes"] if v.endswith("/etc/prometheus/prometheus.yml:ro"))
    config = yaml.safe_load((ROOT / mount.split(":")[0]).read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "streamrec-worker")
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    expected = {f"{name}:{Settings.resolve(env=_env(s)).web_port}" for name, s in _workers().items()}
    assert targets == expected


def test_every_long_running_service_has_a_healthcheck():
    for name, service in SERVICES.items():
        if service.get("restart", "no") != "no":
            assert "healthcheck" in service, name
    for worker in _workers().values():
        port = Settings.resolve(env=_env(worker)).web_port
        assert f"127.0.0.1:{port}/healthz" in " ".join(worker["healthcheck"]["test"])
        assert Settings.resolve(env=_env(worker)).web_host == "0.0.0.0"  # reachable by Prometheus


def test_dockerfile_installs_the_lock_then_the_project():
    text = (ROOT / "docker/Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert text.index("pip install -r requirements.lock") < text.index("pip install --no-deps .")
    assert f"EXPOSE {Settings.resolve(env={}).web_port}" in text
    assert 'CMD ["streamrec", "worker"]' in text
