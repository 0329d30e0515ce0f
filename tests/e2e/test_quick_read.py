"""The CLI's quick path (``app.quick_read``) prints exactly what the full path prints, on several dates, and steps
aside whenever it could not; its copies of facts owned elsewhere (settings, key files, schema head, packs) match."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hanoinet.app import quick_read
from hanoinet.platform import keys, migrations
from hanoinet.platform.settings import Settings
from hanoinet.rules import present as rules_present
from hanoinet.rules.loader import load_builtin_packs
from hanoinet.rules.summary import shipped_packs
from tests.e2e.test_cli import hanoinet, succeeds
from tests.factories import deposits_csv

FULL = "from hanoinet.app.cli import main; main()"
QUICK = "import sys; from hanoinet.app import quick_read; sys.exit(0 if quick_read.answer(sys.argv[1:]) else 99)"


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("quick")
    deposits = base / "deposits.csv"
    deposits.write_text(deposits_csv(), encoding="utf-8")
    data_dir = base / "node"
    succeeds(data_dir, "treaty", "import", str(deposits))
    return data_dir


def run(code: str, data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HANOINET_")}
    env.update({"HANOINET_NODE_STATE": "VNM", "NO_COLOR": "1", "COLUMNS": "200", **extra})
    return subprocess.run(
        [sys.executable, "-c", code, "--data-dir", str(data_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


COMMANDS = [
    ("treaty", "status", "--json", "--on", "2026-01-11"),  # before the 40th ratification
    ("treaty", "status", "--json", "--on", "2026-01-12"),  # the day of it: the threshold, not yet in force
    ("treaty", "status", "--on", "2026-04-11"),  # the day before entry into force, as a table
    ("treaty", "status", "--on=2026-04-12", "--json"),  # the day of entry into force
    ("treaty", "status", "--json"),  # today
    ("treaty", "status", "-i", "budapest-ets185"),
    ("treaty", "party", "vnm", "--on", "2025-10-24", "--json"),  # before Viet Nam signed
    ("treaty", "party", "VNM", "--on", "2026-04-12"),
    ("treaty", "party", "USA", "--json"),
    ("treaty", "basis", "VNM", "THA", "--on", "2026-04-11"),
    ("treaty", "basis", "vnm", "tha", "--json", "--on", "2026-04-12"),
    ("treaty", "basis", "VNM", "THA"),
    ("packs", "list"),
    ("packs", "list", "--json"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_the_quick_path_prints_what_the_full_path_prints(node_dir: Path, args: tuple[str, ...]) -> None:
    full = run(FULL, node_dir, *args)
    quick = run(QUICK, node_dir, *args)

    assert full.returncode == 0, full.stderr
    assert quick.returncode == 0, quick.stderr
    assert quick.stdout == full.stdout
    assert quick.stderr == full.stderr == ""


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (("treaty", "status", "--help"), {}),
        (("treaty", "status", "--on", "2026-02-30"), {}),
        (("treaty", "status", "--instrument", "nope"), {}),
        (("treaty", "party", "XYZ"), {}),
        (("treaty", "basis", "VNM"), {}),
        (("treaty", "status", "--bogus"), {}),
        (("treaty", "import", "x.csv"), {}),
        (("treaty", "status"), {"HANOINET_CLOCK_SPEED": "1440"}),
        (("treaty", "status"), {"HANOINET_NODE_STATE": "XYZ"}),
        (("treaty", "status"), {"HANOINET_DATABASE_URL": "sqlite:////nowhere.db"}),
    ],
)
def test_the_quick_path_steps_aside_when_unsure(node_dir: Path, args: tuple[str, ...], extra: dict[str, str]) -> None:
    assert run(QUICK, node_dir, *args, **extra).returncode == 99


def test_it_steps_aside_for_a_node_not_set_up_and_the_full_path_sets_it_up(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    assert run(QUICK, data_dir, "treaty", "status").returncode == 99
    assert succeeds(data_dir, "treaty", "status", "--json").json()["parties"] == []
    assert run(QUICK, data_dir, "treaty", "status").returncode == 0  # set up now


def test_it_steps_aside_for_operator_packs(node_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    succeeds(data_dir, "packs", "list")
    (data_dir / "packs").mkdir()
    (data_dir / "packs" / "local.yaml").write_text("key: local\n", encoding="utf-8")
    assert run(QUICK, data_dir, "packs", "list").returncode == 99
    assert hanoinet(data_dir, "packs", "list").code == 1  # the loader refuses the broken pack


def test_public_reads_are_not_audited_and_other_commands_still_are(node_dir: Path) -> None:
    succeeds(node_dir, "treaty", "status")
    succeeds(node_dir, "packs", "list")
    succeeds(node_dir, "case", "list")
    actions = {e["action"] for e in succeeds(node_dir, "audit", "list", "--json", "--limit", "1000").json()}

    assert "command:case-list" in actions
    assert "command:treaty-import" in actions
    assert not {"command:treaty-status", "command:packs-list"} & actions


def test_its_copies_of_facts_owned_elsewhere_match() -> None:
    assert set(Settings.model_fields) == quick_read.SETTINGS_FIELDS
    assert quick_read.schema_head() == migrations.head()
    assert (
        keys.MASTER_KEY_FILE,
        keys.SIGNING_KEY_FILE,
        keys.NODE_ID_FILE,
        f"{keys.FEDERATION_DIR}/{keys.FED_SIGNING_FILE}",
        f"{keys.FEDERATION_DIR}/{keys.FED_ENCRYPTION_FILE}",
    ) == quick_read.KEY_FILES
    assert quick_read.MASTER_KEY_BYTES == keys.MASTER_KEY_BYTES
    loaded, shipped = load_builtin_packs(), shipped_packs()
    assert list(shipped) == list(loaded)
    for key, pack in loaded.items():
        assert shipped[key].entry_into_force == pack.entry_into_force
        assert shipped[key].summary() == rules_present.pack_summary(pack)
