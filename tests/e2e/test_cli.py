"""The ``hanoinet`` console script, end to end: real processes on a data directory given with ``--data-dir``."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hanoinet.platform import migrations
from hanoinet.rules.loader import builtin_pack_paths
from tests.e2e.conftest import HANOINET, PeerEntry, Run
from tests.factories import UN_PARTIES, complete_items, deposits_csv, reference

UN = "uncc-2024"
NECESSITY_MISSING = "Art 42(2)(e): the necessity of the preservation is missing"


def hanoinet(data_dir: Path, *args: str) -> Run:
    """Run the console script on ``data_dir``; no HANOINET_* variable but the node's State, XDG data elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_")}
    env.update(
        {
            "HANOINET_NODE_STATE": "VNM",
            "HANOINET_ACTOR": "duty officer",
            "XDG_DATA_HOME": str(data_dir.parent / "xdg-decoy"),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
    )
    done = subprocess.run(
        [HANOINET, "--data-dir", str(data_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert "Traceback" not in done.stdout, done.stdout
    return Run(done.returncode, done.stdout, done.stderr)


def succeeds(data_dir: Path, *args: str) -> Run:
    run = hanoinet(data_dir, *args)
    assert run.code == 0, run
    return run


def item_options(items: dict[str, str]) -> list[str]:
    return [arg for key, value in items.items() for arg in ("--item", f"{key}={value}")]


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose node has imported the deposits that put the UN Convention in force."""
    base = tmp_path_factory.mktemp("cli")
    deposits = base / "deposits.csv"
    deposits.write_text(deposits_csv(), encoding="utf-8")
    data_dir = base / "node"
    run = succeeds(data_dir, "treaty", "import", str(deposits))
    assert f"{UN}: {2 * len(UN_PARTIES)} event(s) recorded, 0 already recorded" in run.out
    return data_dir


@pytest.fixture(scope="module")
def case_ref(node_dir: Path) -> str:
    ref = reference("LOTUS")
    run = succeeds(
        node_dir,
        "case",
        "new",
        "--reference",
        ref,
        "--offence",
        "system_interference",
        "--summary",
        "Tấn công mã độc tống tiền vào bệnh viện",
        "--max-penalty",
        "10",
        "--json",
    )
    case = run.json()
    assert case["reference"] == ref
    assert case["summary"] == "Tấn công mã độc tống tiền vào bệnh viện"
    return ref


@pytest.fixture(scope="module")
def tha(node_dir: Path, peer_entries: Callable[[str], PeerEntry]) -> str:
    """Thailand's node, trusted at the command line from the entry its operator exported; its node id. Nothing
    listens where it says it does, and no node is serving here: what is sent to it waits in the outbox."""
    peer = peer_entries("THA")
    imported = succeeds(node_dir, "directory", "import", str(peer.file))
    assert f"{peer.node_id} (" in imported.out
    return peer.node_id


def test_init_creates_the_data_directory_and_schema(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    run = succeeds(data_dir, "init")

    assert f"database schema at {migrations.head()}" in run.out
    assert (data_dir / "hanoinet.db").is_file()
    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert not (tmp_path / "xdg-decoy").exists()  # --data-dir, not the default location, was used

    again = succeeds(data_dir, "init")
    assert f"database schema at {migrations.head()}" in again.out


def test_importing_the_same_file_again_records_nothing(node_dir: Path, tmp_path: Path) -> None:
    deposits = tmp_path / "deposits.csv"
    deposits.write_text(deposits_csv(), encoding="utf-8")
    run = succeeds(node_dir, "treaty", "import", str(deposits))
    assert f"{UN}: 0 event(s) recorded, {2 * len(UN_PARTIES)} already recorded" in run.out


def test_treaty_status_json(node_dir: Path) -> None:
    status = succeeds(node_dir, "treaty", "status", "--json").json()

    assert {"in_force", "entry_into_force", "instruments_counted", "parties", "signatories"} <= set(status)
    assert status["instrument"] == UN
    assert status["in_force"] is True
    assert status["entry_into_force"] == "2026-04-12"
    assert status["instruments_counted"] == len(UN_PARTIES)
    assert status["instruments_missing"] == 0
    assert sorted(status["parties"]) == sorted(UN_PARTIES)
    assert sorted(status["signatories"]) == sorted(UN_PARTIES)

    earlier = succeeds(node_dir, "treaty", "status", "--on", "2026-04-11", "--json").json()
    assert (earlier["on"], earlier["in_force"], earlier["parties"]) == ("2026-04-11", False, [])


def test_treaty_party_json(node_dir: Path) -> None:
    vnm = succeeds(node_dir, "treaty", "party", "VNM", "--json").json()
    assert vnm["state"] == "VNM"
    assert vnm["name"] == "Viet Nam"
    assert vnm["party"] is True
    assert vnm["party_since"] == "2026-04-12"
    assert vnm["signed_on"] == "2025-10-25"
    assert vnm["consent_deposited_on"] == "2026-01-12"
    assert vnm["consent_action"] == "ratification"
    assert vnm["denounced_on"] is None

    usa = succeeds(node_dir, "treaty", "party", "usa", "--json").json()
    assert (usa["state"], usa["party"], usa["signed_on"]) == ("USA", False, None)

    unknown = hanoinet(node_dir, "treaty", "party", "XYZ", "--json")
    assert unknown.code == 2
    assert "unknown State 'XYZ'" in unknown.err
    assert unknown.out == ""


def test_a_bad_treaty_file_is_refused_whole(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "state,action,date\n"
        "XYZ,signature,2025-10-25\n"  # 2: unknown State
        "USA,signature,2025-10-25\n"  # 3: fine on its own
        "\n"
        "GBR,signature,2026-02-30\n"  # 5: no such date
        "NOR,ratify,2026-01-12\n"  # 6: unknown action
        "CHL,ratification,2026-01-12\n",  # 7: ratification without signature
        encoding="utf-8",
    )

    run = hanoinet(data_dir, "treaty", "import", str(bad))

    assert run.code != 0
    reported = [line for line in run.err.splitlines() if line.strip()]
    assert [line.split(":")[1].strip() for line in reported] == ["line 2", "line 5", "line 6", "line 7"]
    assert "'XYZ'" in reported[0]
    assert "2026-02-30" in reported[1]
    assert "'ratify'" in reported[2]
    assert "without a prior signature" in reported[3]
    assert "recorded" not in run.out

    status = succeeds(data_dir, "treaty", "status", "--json").json()
    assert status["signatories"] == []
    assert status["parties"] == []
    assert succeeds(data_dir, "treaty", "party", "USA", "--json").json()["signed_on"] is None


def test_a_file_that_is_not_a_deposit_table(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("country,what,when\nVNM,signature,2025-10-25\n", encoding="utf-8")

    run = hanoinet(tmp_path / "node", "treaty", "import", str(bad))

    assert run.code == 2  # invalid input, as the API answers 422 for the same file
    assert f"error: {bad}:1: the header must be exactly the columns state,action,date" in run.err


def test_declarations_are_imported_whole_and_listed(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    good = tmp_path / "declarations.yaml"
    good.write_text(
        "declarations:\n"
        "  - {state: JPN, instrument: uncc-2024, made_on: 2026-05-01, languages: [ja, en], reference: C.N.9.2026}\n"
        "  - {state: EGY, instrument: budapest-ets185, made_on: 2020-01-01, languages: [ar]}\n",
        encoding="utf-8",
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "declarations:\n"
        "  - {state: FRA, instrument: uncc-2024, made_on: 2026-05-01, languages: [fr]}\n"
        "  - {state: XYZ, instrument: uncc-2024, made_on: 2026-05-01, languages: [fr]}\n",
        encoding="utf-8",
    )
    refused = hanoinet(data_dir, "treaty", "declarations", "import", str(bad))
    assert refused.code == 2
    assert "declarations[1].state: unknown State 'XYZ'" in refused.err
    assert succeeds(data_dir, "treaty", "declarations", "list", "--json").json() == []  # the good row neither
    assert (
        "2 declaration(s) recorded, 0 already recorded"
        in succeeds(data_dir, "treaty", "declarations", "import", str(good)).out
    )
    assert (
        "0 declaration(s) recorded, 2 already recorded"
        in succeeds(data_dir, "treaty", "declarations", "import", str(good)).out
    )
    later = tmp_path / "later.yaml"
    later.write_text(
        "declarations:\n  - {state: JPN, instrument: uncc-2024, made_on: 2026-09-01, languages: [ja]}\n",
        encoding="utf-8",
    )
    succeeds(data_dir, "treaty", "declarations", "import", str(later))
    japan = succeeds(data_dir, "treaty", "declarations", "list", "--state", "jpn", "--json").json()
    assert japan == [
        {
            "instrument": UN,
            "state": "JPN",
            "made_on": "2026-09-01",
            "languages": ["ja"],
            "reference": "",
            "reservations": [],
        }
    ]  # the later declaration replaces the earlier one
    table = succeeds(data_dir, "treaty", "declarations", "list").out
    assert "EGY" in table
    assert "budapest-ets185" in table


def test_request_new_validate_send_and_list(node_dir: Path, case_ref: str, tha: str) -> None:
    items = complete_items(UN, "preservation")
    necessity = items.pop("necessity")

    created = succeeds(
        node_dir,
        "request",
        "new",
        "--case",
        case_ref,
        "--type",
        "preservation",
        "--to",
        "THA",
        *item_options(items),
        "--json",
    ).json()
    rid = created["id"]
    assert created["state"] == "draft"
    assert created["requesting_state"] == "VNM"
    assert created["items"] == items
    assert [i["text"] for i in created["issues"]] == [NECESSITY_MISSING]

    saved = hanoinet(node_dir, "request", "validate", rid)
    assert saved.code == 2
    assert NECESSITY_MISSING in saved.err

    unsaved = hanoinet(
        node_dir,
        "request",
        "validate",
        "--case",
        case_ref,
        "--type",
        "preservation",
        "--to",
        "THA",
        *item_options(items),
    )
    assert unsaved.code == 2
    assert NECESSITY_MISSING in unsaved.err

    refused = hanoinet(node_dir, "request", "transition", rid, "send")
    assert refused.code == 2
    assert NECESSITY_MISSING in refused.err

    succeeds(node_dir, "request", "amend", rid, "--item", f"necessity={necessity}")
    complete = succeeds(node_dir, "request", "validate", rid)
    assert complete.out.startswith("ready: every required item is present, the legal basis holds")
    assert "a node will carry it" in complete.out

    sent = succeeds(node_dir, "request", "transition", rid, "send", "--json").json()
    assert sent["state"] == "sent"
    assert [e["kind"] for e in sent["events"]] == ["created", "amended", "sent"]
    assert sent["events"][-1]["actor"] == "duty officer"
    assert sent["peer"] == tha
    (waiting,) = succeeds(node_dir, "message", "list", "--request", rid, "--json").json()
    assert (waiting["direction"], waiting["peer"], waiting["kind"], waiting["status"]) == (
        "outgoing",
        tha,
        "request",
        "pending",
    )

    due_today = succeeds(node_dir, "request", "list", "--due-within", "24h", "--json").json()
    (line,) = [r for r in due_today if r["id"] == rid]
    assert (line["state"], line["next_clock"], line["urgency"]) == ("sent", "acknowledge", "due_soon")
    within_hour = succeeds(node_dir, "request", "list", "--due-within", "1h", "--json").json()
    assert rid not in {r["id"] for r in within_hour}

    illegal = hanoinet(node_dir, "request", "transition", rid, "send")
    assert illegal.code == 3
    assert "cannot send a request that is sent" in illegal.err
    theirs = hanoinet(node_dir, "request", "transition", rid, "preserve")
    assert theirs.code == 3
    assert f"preserve is for the requested State to do; on this request it arrives from node {tha}" in theirs.err
    assert succeeds(node_dir, "request", "show", rid).json()["state"] == "sent"


def test_sending_without_legal_basis(node_dir: Path, case_ref: str) -> None:
    items = complete_items(UN, "preservation")
    created = succeeds(
        node_dir,
        "request",
        "new",
        "--case",
        case_ref,
        "--type",
        "preservation",
        "--to",
        "USA",
        *item_options(items),
        "--deadline",
        "2030-03-01T12:00:00+07:00",
        "--json",
    ).json()
    assert datetime.fromisoformat(created["deadline"]) == datetime(2030, 3, 1, 5, 0, tzinfo=UTC)

    refused = hanoinet(node_dir, "request", "transition", created["id"], "send")

    assert refused.code == 3
    assert "USA (United States" in refused.err
    assert "is not a Party" in refused.err
    shown = succeeds(node_dir, "request", "show", created["id"]).json()
    assert shown["state"] == "draft"
    assert shown["deadline"] == "2030-03-01T05:00:00+00:00"  # an offset is accepted, and stored as UTC
    assert len(shown["events"]) == 1


def test_a_request_no_node_can_carry_is_not_sent(node_dir: Path, case_ref: str) -> None:
    """Cambodia is bound, but no node of it is in the directory: the request is not reported as sent (exit 3)."""
    items = complete_items(UN, "mla")
    new = ("request", "new", "--case", case_ref, "--type", "mla", "--to", "KHM", *item_options(items), "--json")
    rid = succeeds(node_dir, *new).json()["id"]

    refused = hanoinet(node_dir, "request", "transition", rid, "send")
    assert refused.code == 3
    assert "not sent: no active node of KHM (Cambodia) is in this node's directory" in refused.err
    shown = succeeds(node_dir, "request", "show", rid).json()
    assert (shown["state"], len(shown["events"]), shown["peer"]) == ("draft", 1, None)
    assert [i["field"] for i in shown["issues"]] == ["requested_state"]


def test_the_inbox_shows_ids_to_type_back_the_case_and_the_types_name(node_dir: Path, case_ref: str) -> None:
    items = complete_items(UN, "mla")
    new = ("request", "new", "--case", case_ref, "--type", "mla", "--to", "KHM", *item_options(items), "--json")
    rid = succeeds(node_dir, *new).json()["id"]

    listed = succeeds(node_dir, "request", "list", "--type", "mla").out
    (row,) = [line for line in listed.splitlines() if rid[:8] in line]
    short = row.split()[1] if row.startswith("│") else row.split()[0]
    assert rid.startswith(short)
    assert len(short) >= 8
    assert case_ref in row
    assert "Mutual legal assistance" in row
    assert "outgoing" in row

    assert succeeds(node_dir, "request", "show", short).json()["id"] == rid
    amended = succeeds(node_dir, "request", "amend", short, "--item", "facts_summary=Amended", "--json").json()
    assert (amended["id"], amended["items"]["facts_summary"]) == (rid, "Amended")
    withdrawn = succeeds(node_dir, "request", "transition", short, "withdraw", "--json").json()
    assert (withdrawn["id"], withdrawn["state"]) == (rid, "withdrawn")
    unknown = hanoinet(node_dir, "request", "show", "ffffffff-no")
    assert unknown.code == 4
    assert "no request 'ffffffff-no'" in unknown.err
    too_short = hanoinet(node_dir, "request", "show", rid[:3])
    assert too_short.code == 4
    assert "at least 4 characters" in too_short.err


def test_a_bad_duration_is_reported(node_dir: Path) -> None:
    run = hanoinet(node_dir, "request", "list", "--due-within", "24x")
    assert run.code == 1
    assert "--due-within '24x': expected a number and a unit" in run.err


def test_unknown_request_is_not_found(node_dir: Path) -> None:
    run = hanoinet(node_dir, "request", "show", "no-such-request")
    assert run.code == 4
    assert "no request 'no-such-request'" in run.err


def broken_pack(data_dir: Path) -> tuple[Path, int]:
    """Copy the shipped UN pack into DATA_DIR/packs with one wrong value; return the file and that line."""
    (shipped,) = [p for p in builtin_pack_paths() if p.name == f"{UN}.yaml"]
    lines = shipped.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, text in enumerate(lines, start=1) if text.strip() == "instruments_required: 40")
    lines[number - 1] = lines[number - 1].replace("40", '"forty"')
    packs = data_dir / "packs"
    packs.mkdir(parents=True)
    broken = packs / "uncc-2024-local.yaml"
    broken.write_text("".join(lines), encoding="utf-8")
    return broken, number


def test_a_broken_pack_stops_every_command_with_file_and_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    broken, line = broken_pack(data_dir)

    for args in (("treaty", "status", "--json"), ("request", "list"), ("serve", "--port", "9")):
        run = hanoinet(data_dir, *args)
        assert run.code == 1, (args, run)
        assert run.err.startswith(f"error: {broken}:{line}: entry_into_force.instruments_required"), (args, run)
        assert run.out.strip() == ""


def test_broken_yaml_in_a_pack_is_reported_with_its_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    packs = data_dir / "packs"
    packs.mkdir(parents=True)
    broken = packs / "typo.yaml"
    broken.write_text("key: local\ntitle: [unclosed\n", encoding="utf-8")

    run = hanoinet(data_dir, "treaty", "status")

    assert run.code == 1
    assert run.err.startswith(f"error: {broken}:")
    assert "invalid YAML" in run.err


def test_a_commands_change_and_its_audit_entry_are_written_together(tmp_path: Path) -> None:
    """A command that changes something is recorded in the change's transaction, once, naming what it changed;
    a command that fails is still recorded, with its failure."""
    data_dir = tmp_path / "node"
    ref = reference("AUDIT")
    opened = succeeds(
        data_dir, "case", "new", "--reference", ref, "--offence", "illegal_access", "--summary", "s", "--json"
    )
    case_id = opened.json()["id"]
    refused = hanoinet(data_dir, "case", "new", "--reference", ref, "--offence", "illegal_access", "--summary", "s")
    assert refused.code != 0
    entries = succeeds(data_dir, "audit", "list", "--action", "command:case-new", "--json").json()
    assert [(e["outcome"], e["details"].get("changed"), e["details"]["exit"]) for e in reversed(entries)] == [
        ("ok", case_id, 0),
        ("failed", None, refused.code),
    ]
    assert succeeds(data_dir, "audit", "verify").code == 0


def test_a_preservation_held_by_a_follow_up_registered_here_is_not_listed_as_falling_due(
    node_dir: Path, case_ref: str
) -> None:
    """Art 42 / Budapest Art 29(7): once the follow-up MLA request is registered at this node, the preservation is
    kept until it is decided, so ``request list --due-within 61d`` no longer shows it falling due on day 60."""
    incoming = ("request", "new", "--case", case_ref, "--incoming", "--from", "THA", "--to", "VNM", "--json")
    preservation = succeeds(
        node_dir, *incoming, "--type", "preservation", *item_options(complete_items(UN, "preservation"))
    )
    rid = preservation.json()["id"]
    succeeds(node_dir, "request", "transition", rid, "acknowledge")
    succeeds(node_dir, "request", "transition", rid, "preserve")
    falling_due = succeeds(node_dir, "request", "list", "--due-within", "61d", "--json").json()
    assert [(r["next_clock"], r["state"]) for r in falling_due if r["id"] == rid] == [("preservation", "preserved")]

    mla = succeeds(node_dir, *incoming, "--type", "mla", "--follows-up", rid, *item_options(complete_items(UN, "mla")))
    mla_id = mla.json()["id"]

    listed = succeeds(node_dir, "request", "list", "--due-within", "61d", "--json").json()
    assert rid not in {r["id"] for r in listed}
    assert mla_id in {r["id"] for r in listed}
    (kept,) = [c for c in succeeds(node_dir, "request", "show", rid).json()["clocks"] if c["name"] == "preservation"]
    assert (kept["status"], kept["due_at"]) == ("held", None)


def test_amend_at_the_command_line_sets_removes_and_keeps_items_in_one_change(node_dir: Path, case_ref: str) -> None:
    """The CLI's amend means what the API's and the web's mean: KEY=VALUE sets, KEY= removes, the rest stays — one
    change, one 'amended' event naming what changed."""
    items = complete_items(UN, "preservation")
    new = ("request", "new", "--case", case_ref, "--type", "preservation", "--to", "THA", *item_options(items))
    rid = succeeds(node_dir, *new, "--json").json()["id"]

    amended = succeeds(
        node_dir, "request", "amend", rid, "--item", "offence_and_facts=Changed", "--item", "necessity=", "--json"
    ).json()

    assert amended["items"] == {**{k: v for k, v in items.items() if k != "necessity"}, "offence_and_facts": "Changed"}
    assert [e["kind"] for e in amended["events"]] == ["created", "amended"]
    assert sorted(amended["events"][-1]["data"]["changed"]) == ["necessity", "offence_and_facts"]
    assert [i["text"] for i in amended["issues"]] == [NECESSITY_MISSING]


def test_length_limits_hold_at_the_command_line_and_save_nothing(node_dir: Path, case_ref: str) -> None:
    """The limits live in the domain: the CLI cannot store a summary or an item the API would refuse."""
    long_summary = hanoinet(
        node_dir, "case", "new", "--reference", reference("LONG"), "--offence", "illegal_access",
        "--summary", "x" * 20_001,
    )  # fmt: skip
    assert long_summary.code == 2
    assert "summary: is longer than 20,000 characters" in long_summary.err

    items = complete_items(UN, "preservation")
    rid = succeeds(
        node_dir, "request", "new", "--case", case_ref, "--type", "preservation", "--to", "THA",
        *item_options(items), "--json",
    ).json()["id"]  # fmt: skip
    too_long = hanoinet(node_dir, "request", "amend", rid, "--item", "offence_and_facts=" + "y" * 20_001)
    assert too_long.code == 2
    assert "items.offence_and_facts: is longer than 20,000 characters" in too_long.err
    shown = succeeds(node_dir, "request", "show", rid).json()
    assert (shown["items"], len(shown["events"])) == (items, 1)


def test_property_is_recorded_and_a_release_beyond_the_freeze_is_refused(node_dir: Path, case_ref: str) -> None:
    made = succeeds(
        node_dir, "asset", "new", "--case", case_ref, "--kind", "virtual_asset", "--description", "The ransom",
        "--location-state", "THA", "--currency", "BTC", "--value", "2.5",
        "--address", "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "--network", "bitcoin", "--json",
    )  # fmt: skip
    asset = json.loads(made.out)["id"]
    day = ("--state", "THA", "--taken-on", "2026-12-01")
    succeeds(node_dir, "asset", "measure", asset, "--kind", "frozen", *day, "--amount", "2.5", "--order", "F-1")
    refused = hanoinet(node_dir, "asset", "measure", asset, "--kind", "released", *day, "--amount", "3")
    assert refused.code == 2
    assert "amount: is more than is still frozen (2.5 BTC)" in refused.err
    shown = json.loads(succeeds(node_dir, "asset", "show", asset).out)
    assert (shown["status"], shown["still_frozen"], len(shown["measures"])) == ("frozen", "2.5", 1)
