"""The Dockerfile and deploy/compose.yaml, checked without Docker (images cannot be pulled here).

The compose file is validated against the Compose Specification's own JSON schema
(compose-spec.json beside this file, from github.com/compose-spec/compose-spec, Apache-2.0,
commit 170098b); every command a service runs is parsed by the real CLI it names (mara's,
MLflow's), the image's entry point is run for real on loopback, and the compose Prometheus
configuration goes through promtool with the rules it mounts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import httpx
import jsonschema
import pytest
import yaml
from monitoring_tools import require

from mara.cli import cli as mara_cli
from mara.serve.process import free_port, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in joined]


def exec_form(instruction: str) -> list[str]:
    """The JSON (exec) form of ENTRYPOINT or CMD; the shell form would not pass signals on."""
    found = [args for name, args in dockerfile_instructions() if name == instruction]
    assert len(found) == 1, f"one {instruction} expected, found {len(found)}"
    return json.loads(found[0])


def parse_mara(args: list[str]) -> click.Context:
    """Parse `mara ARGS` with the real CLI (every option and value checked), without running."""
    group = mara_cli.make_context("mara", list(args), resilient_parsing=False)
    name, command, rest = mara_cli.resolve_command(group, group.protected_args + group.args)
    assert command is not None, f"no mara command {name!r}"
    return command.make_context(name, rest, parent=group)


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_compose_file_is_valid_compose():
    schema = json.loads((Path(__file__).with_name("compose-spec.json")).read_text())
    jsonschema.validate(compose(), schema)
    services = compose()["services"]
    assert {"mara", "mlflow", "prometheus"} <= set(services)
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = (COMPOSE.parent / build["context"]).resolve()
            assert (context / build["dockerfile"]) == DOCKERFILE, name
        for volume in service.get("volumes", []):
            parts = volume.split(":")
            if parts[-1] == "ro":  # configuration shipped in this repository
                assert (COMPOSE.parent / parts[0]).is_file(), (name, volume)


def test_every_mara_service_runs_a_real_mara_command_on_its_published_port():
    image_entrypoint = exec_form("ENTRYPOINT")
    assert image_entrypoint == ["mara"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["mara"] == "mara.cli:main"
    services = compose()["services"]
    checked = 0
    for name, service in services.items():
        if service.get("image", "").split(":")[0] not in ("mara", "mara-ray"):
            continue
        if service.get("entrypoint") not in (None, image_entrypoint):
            continue  # another program of the image (MLflow), checked below
        ctx = parse_mara(service["command"])
        assert ctx.info_name == "serve"
        published = {int(p.split(":")[1]) for p in service["ports"]}
        assert ctx.params["port"] in published, name
        assert ctx.params["host"] == "0.0.0.0"  # reachable from outside the container
        assert service["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        # Serving on 0.0.0.0 needs tokens: a compose secret, read from a file, never argv.
        tokens = service["environment"]["MARA_TOKENS_FILE"]
        assert tokens.startswith("/run/secrets/")
        assert tokens.removeprefix("/run/secrets/") in service["secrets"]
        assert not any("token" in arg.lower() for arg in service["command"])
        if name == "mara-ray":
            assert ctx.params["engine"] == "ray"
            assert service["build"]["args"]["EXTRAS"] == "ray"
        checked += 1
    assert checked == 2


def test_the_mlflow_service_command_is_accepted_by_mlflow():
    from mlflow.cli import cli as mlflow_cli

    service = compose()["services"]["mlflow"]
    group = mlflow_cli.make_context("mlflow", list(service["command"]))
    name, command, rest = mlflow_cli.resolve_command(group, group.protected_args + group.args)
    assert name == "server"
    ctx = command.make_context(name, rest, parent=group)
    assert ctx.params["port"] == 5000
    assert f"mlflow:{ctx.params['port']}" in ctx.params["allowed_hosts"]


def test_the_image_installs_the_lock_and_serves_by_default():
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11")
    runs = " ".join(args for name, args in instructions if name == "RUN")
    assert "uv sync --frozen --no-dev" in runs  # the locked versions, as `make install`
    makefile = (ROOT / "Makefile").read_text()
    uv_version = next(
        line.split(":=")[1].strip()
        for line in makefile.splitlines()
        if line.startswith("UV_VERSION")
    )
    assert f"uv=={uv_version}" in runs  # the uv that `make install` uses
    for name, args in instructions:
        if name == "COPY":
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source
    ctx = parse_mara(exec_form("CMD"))
    assert ctx.info_name == "serve"
    exposed = {int(args) for name, args in instructions if name == "EXPOSE"}
    assert exposed == {ctx.params["port"]}


@pytest.mark.e2e
def test_the_image_command_serves(trained_home: Path, tmp_path: Path):
    """ENTRYPOINT + CMD, run as the container would, on loopback and a free port."""
    command = exec_form("ENTRYPOINT") + exec_form("CMD")
    port = free_port()
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    mara = Path(sys.executable).with_name(command[0])
    home = tmp_path / "home"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("captured_data", "logs"))
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [str(mara), *command[1:]],
            stdout=log,
            stderr=log,
            env=os.environ | {"MARA_HOME": str(home)},
        )
    try:
        url = f"http://127.0.0.1:{port}/health"
        log_path = tmp_path / "serve.log"
        wait_until_ready(url, process, name="the image command", timeout_s=180, log_path=log_path)
        health = httpx.get(url, timeout=10)
        assert set(health.json()["models"]) == {"phase-1/prob-1", "phase-1/prob-2"}
    finally:
        process.terminate()
        assert process.wait(60) == 0  # drained on SIGTERM, as `docker stop` sends


def test_promtool_accepts_the_compose_prometheus_config(tmp_path: Path):
    # Laid out as the compose file mounts it: the config and the rules side by side.
    service = compose()["services"]["prometheus"]
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        shutil.copy(COMPOSE.parent / source, tmp_path / Path(target).name)
    config = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    scrape = config["scrape_configs"][0]
    assert scrape["static_configs"][0]["targets"] == ["mara:5040"]
    # The token is the secret compose mounts into the Prometheus container.
    secret = scrape["authorization"]["credentials_file"]
    assert secret == "/run/secrets/prometheus_token"
    assert "prometheus_token" in service["secrets"] and "prometheus_token" in compose()["secrets"]
    scrape["authorization"]["credentials_file"] = str(tmp_path / "prometheus_token")
    (tmp_path / "prometheus_token").write_text("a-token-of-the-metrics-scope\n")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    promtool = require("promtool")
    done = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr
