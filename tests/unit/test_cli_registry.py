"""The root command's table of sub-commands (``hanoinet.app.cli.SUBCOMMANDS``) cannot rot: every entry resolves to
a real Typer app whose help is the line shown, every Typer app of a capability's CLI module is listed, and
``hanoinet --help`` lists them all without importing any of them."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hanoinet.app.cli import SUBCOMMANDS, app, load_subcommand

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_entry_resolves_to_a_typer_app_with_the_help_it_lists(name: str) -> None:
    sub = load_subcommand(name)

    assert isinstance(sub, typer.Typer)
    assert sub.info.help == SUBCOMMANDS[name][2]
    assert sub.registered_commands, f"{name} has no command"


def test_every_typer_app_of_the_cli_modules_is_in_the_table() -> None:
    """Each Typer app of a CLI module is a listed group, or a group nested in one (``treaty declarations``):
    none is defined and left unreachable from ``hanoinet``."""
    listed = {(module, attribute) for module, attribute, _ in SUBCOMMANDS.values()}
    nested = {
        id(group.typer_instance)
        for name in SUBCOMMANDS
        for group in load_subcommand(name).registered_groups
        if group.typer_instance is not None
    }
    found = set()
    for path in sorted(SRC.glob("hanoinet/*/cli*.py")):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        loaded = importlib.import_module(module)
        found |= {
            (module, name)
            for name, value in vars(loaded).items()
            if isinstance(value, typer.Typer) and id(value) not in nested
        }
    found.discard(("hanoinet.app.cli", "app"))

    assert found == listed
    assert nested, "treaty declarations is a group nested in treaty"


def test_root_help_lists_every_sub_command_with_its_help() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})

    assert result.exit_code == 0
    lines = result.output.splitlines()
    for name, (_, _, help_line) in SUBCOMMANDS.items():
        assert any(line.strip("│ ").startswith(f"{name} ") and help_line in line for line in lines), name
    for root_command in ("init", "serve", "demo"):
        assert any(line.strip("│ ").startswith(f"{root_command} ") for line in lines), root_command


def test_a_sub_command_runs_through_the_lazy_root() -> None:
    result = CliRunner().invoke(app, ["packs", "check", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})

    assert result.exit_code == 0
    assert "Validate rule-pack files against the schema" in result.output


def test_root_help_imports_no_capability() -> None:
    probe = (
        "import json, sys\n"
        "from hanoinet.app.cli import app\n"
        "try:\n"
        "    app(['--help'], standalone_mode=False)\n"
        "finally:\n"
        "    print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))

    assert "Commands" in done.stdout
    heavy = {"sqlalchemy", "fastapi", "alembic", "pydantic", "cryptography", "hanoinet.audit.service"}
    assert not heavy & modules
    assert not {module for module, _, _ in SUBCOMMANDS.values()} & modules
