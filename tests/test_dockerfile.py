"""The Dockerfile cannot be built here (no Docker engine), so its steps are checked instead:
the base, the user, the port and the health check, and every `copilot` command it runs."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from service.settings import Settings

DOCKERFILE = (Path(__file__).resolve().parent.parent / "Dockerfile").read_text(encoding="utf-8")


def instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_slim_base_non_root_user_port_and_healthcheck() -> None:
    assert re.fullmatch(r"python:3\.1[1-9]-slim", instructions("FROM")[0])
    user = instructions("USER")[-1]
    assert user not in {"root", "0"}
    assert instructions("EXPOSE") == [str(Settings().port)]
    assert "/healthz" in instructions("HEALTHCHECK")[0]
    assert any("torch==2.13.0" in run for run in instructions("ARG"))
    assert "copilot setup" in " ".join(instructions("RUN"))  # models are built into the image


def test_every_copilot_command_it_runs_exists() -> None:
    commands = re.findall(r"copilot (\w+)", " ".join(instructions("RUN")))
    commands += re.findall(r'"copilot", "(\w+)"', " ".join(instructions("CMD")))
    assert "serve" in commands and "setup" in commands
    for command in commands:
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_copied_sources_are_the_packages() -> None:
    copied = {line.split()[0] for line in instructions("COPY")}
    for package in ("kb", "copilot", "eval", "service"):
        assert package in copied
        assert (Path(__file__).resolve().parent.parent / package / "__init__.py").exists()
