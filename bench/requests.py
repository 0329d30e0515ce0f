#!/usr/bin/env python3
"""Durable request creation through the service layer, against the same inserts written by hand.

What is measured: ``hanoinet.requests.service.create_request`` on a node built by ``hanoinet.app.bootstrap`` — the
draft validated against its rule pack, the case looked up, one row written to ``requests`` and one to
``request_events``, committed — one durable transaction per request, on a SQLite file in WAL mode with
synchronous=FULL (``adapters/db.py``). The baseline is the floor any implementation has to pay: Python's
``sqlite3`` module writing the same two rows (same columns, same value shapes, JSON as text, a fresh UUID and
timestamp each) into a database migrated by hanoinet's own migrations, with the same pragmas, one committed
transaction per request.

Why: every user action in hanoinet is one durable transaction, and the disk (fsync) sets the pace of commits. The
ratio says how much the layers above the disk (validation, SQLAlchemy, the unit of work) cost on top of it; the
goal is at least 0.3x of the raw driver.

The two sides run alternately, ``--rounds`` times, ``--n`` requests each per round, and the median round of each
side is reported, to damp disk noise. With ``--database-url postgresql+psycopg://...`` both sides run on that
server instead (the baseline with psycopg), in scratch databases created and dropped by the benchmark; with
``--postgres`` they run on SQLite and then on a throwaway PostgreSQL cluster (``scripts/pg_throwaway.py``)
restarted with fsync and synchronous_commit on, so that commits are as durable as on SQLite.

Figures are printed, never asserted: disk speed varies too much between machines and runs.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from common import (
    COUNTERPARTS,
    NODE_STATE,
    complete_items,
    environment,
    libpq_url,
    reproduce,
    shown_url,
    sqlite_timestamp,
    temporary_directory,
    throwaway_postgres,
)
from sqlalchemy.engine import make_url

from hanoinet.app.bootstrap import bootstrap, open_database
from hanoinet.app.node import Node
from hanoinet.cases.service import open_case
from hanoinet.platform import migrations
from hanoinet.platform.db import make_engine
from hanoinet.platform.settings import Settings
from hanoinet.requests.service import RequestDraft, create_request
from hanoinet.rules.loader import load_builtin_packs

GOAL = 0.3
ACTOR = "bench"

# (instrument, request type, emergency): the mix a busy central authority and 24/7 point of contact draft.
MIX: tuple[tuple[str, str, bool], ...] = (
    ("uncc-2024", "preservation", False),
    ("uncc-2024", "preservation", True),
    ("uncc-2024", "mla", False),
    ("uncc-2024", "mla_stored_data", False),
    ("uncc-2024", "emergency", True),
    ("uncc-2024", "traffic_data_disclosure", False),
    ("uncc-2024", "law_enforcement_information", False),
    ("uncc-2024", "extradition", False),
    ("budapest-ets185", "preservation", False),
    ("budapest-ets185", "mla", True),
)
REQUESTED = COUNTERPARTS[:6]

REQUEST_COLUMNS = (
    "id, case_id, instrument, type, direction, requesting_state, requested_state, counterpart_state, items, "
    "emergency, deadline, follows_up, state, created_at, updated_at, version, next_due_at, next_clock"
)
EVENT_COLUMNS = "request_id, seq, kind, at, actor, state_from, state_to, data"


def make_drafts(case_id: str, n: int, now: datetime) -> list[RequestDraft]:
    """N complete outgoing drafts of mixed types and counterparts; every third one states a deadline."""
    packs = load_builtin_packs()
    items = {(instrument, rtype): complete_items(packs, instrument, rtype) for instrument, rtype, _ in MIX}
    drafts = []
    for i in range(n):
        instrument, rtype, emergency = MIX[i % len(MIX)]
        drafts.append(
            RequestDraft(
                case=case_id,
                instrument=instrument,
                type=rtype,
                requested_state=REQUESTED[i % len(REQUESTED)],
                requesting_state=NODE_STATE,
                items=items[instrument, rtype],
                emergency=emergency,
                deadline=now + timedelta(days=30) if i % 3 == 0 else None,
            )
        )
    return drafts


def case_row(node: Node) -> tuple[str, str, str, int | None, str, str, datetime]:
    """Open the case every request is made for; return its row, to copy into the baseline database."""
    case = open_case(
        node,
        reference=f"BENCH-{uuid.uuid4().hex[:8]}",
        offence="illegal_access",
        max_penalty_years=5,
        summary="Intrusion into a provincial hospital's systems; the servers used are abroad.",
    )
    return (
        case.id,
        case.reference,
        case.offence,
        case.max_penalty_years,
        case.summary,
        case.legal_qualification,
        case.created_at,
    )


def service_side(node: Node) -> Callable[[Sequence[RequestDraft]], None]:
    """Create each draft through the service layer: one unit of work, one commit per request."""

    def run(drafts: Sequence[RequestDraft]) -> None:
        for draft in drafts:
            create_request(node, draft, actor=ACTOR)

    return run


def sqlite_baseline(path: Path) -> tuple[Callable[[Sequence[RequestDraft]], None], sqlite3.Connection]:
    """The same two rows per request with the ``sqlite3`` module, same pragmas, one transaction per request."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=10000"):
        conn.execute(f"PRAGMA {pragma}")
    insert_request = f"INSERT INTO requests ({REQUEST_COLUMNS}) VALUES ({', '.join('?' * 18)})"  # noqa: S608
    insert_event = f"INSERT INTO request_events ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 8)})"  # noqa: S608

    def run(drafts: Sequence[RequestDraft]) -> None:
        for d in drafts:
            request_id = str(uuid.uuid4())
            now = sqlite_timestamp(datetime.now(UTC))
            deadline = sqlite_timestamp(d.deadline) if d.deadline else None
            conn.execute("BEGIN")
            conn.execute(
                insert_request,
                (
                    request_id,
                    d.case,
                    d.instrument,
                    d.type,
                    "outgoing",
                    NODE_STATE,
                    d.requested_state,
                    d.requested_state,
                    json.dumps(d.items),
                    d.emergency,
                    deadline,
                    None,
                    "draft",
                    now,
                    now,
                    0,
                    None,
                    None,
                ),
            )
            conn.execute(insert_event, (request_id, 1, "created", now, ACTOR, None, "draft", "{}"))
            conn.execute("COMMIT")

    return run, conn


def postgres_baseline(url: str) -> tuple[Callable[[Sequence[RequestDraft]], None], psycopg.Connection[tuple[object]]]:
    """The same two rows per request with psycopg, one committed transaction per request."""
    conn: psycopg.Connection[tuple[object]] = psycopg.connect(libpq_url(url))
    values = ", ".join("%s::json" if c.strip() == "items" else "%s" for c in REQUEST_COLUMNS.split(","))
    insert_request = f"INSERT INTO requests ({REQUEST_COLUMNS}) VALUES ({values})"  # noqa: S608
    insert_event = f"INSERT INTO request_events ({EVENT_COLUMNS}) VALUES ({', '.join(['%s'] * 7)}, %s::json)"  # noqa: S608

    def run(drafts: Sequence[RequestDraft]) -> None:
        with conn.cursor() as cur:
            for d in drafts:
                request_id = str(uuid.uuid4())
                now = datetime.now(UTC)
                cur.execute(
                    insert_request,
                    (
                        request_id,
                        d.case,
                        d.instrument,
                        d.type,
                        "outgoing",
                        NODE_STATE,
                        d.requested_state,
                        d.requested_state,
                        json.dumps(d.items),
                        d.emergency,
                        d.deadline,
                        None,
                        "draft",
                        now,
                        now,
                        0,
                        None,
                        None,
                    ),
                )
                cur.execute(insert_event, (request_id, 1, "created", now, ACTOR, None, "draft", "{}"))
                conn.commit()

    return run, conn


@dataclass
class Result:
    """Requests per second of each round, on each side."""

    service: list[float]
    baseline: list[float]

    def line(self, label: str, baseline_label: str) -> str:
        service, baseline = statistics.median(self.service), statistics.median(self.baseline)
        return (
            f"{label}: {service:.0f} req/s, {baseline_label} baseline: {baseline:.0f} req/s, "
            f"ratio {service / baseline:.2f}x (goal >= {GOAL}x)"
        )


def alternate(
    service: Callable[[Sequence[RequestDraft]], None],
    baseline: Callable[[Sequence[RequestDraft]], None],
    drafts: Sequence[RequestDraft],
    rounds: int,
) -> Result:
    """Run both sides ``rounds`` times, alternating which goes first, and print each round."""
    result = Result([], [])
    for r in range(rounds):
        order = [("service", service), ("baseline", baseline)]
        if r % 2:
            order.reverse()
        times: dict[str, float] = {}
        for name, side in order:
            started = time.perf_counter()
            side(drafts)
            times[name] = time.perf_counter() - started
        result.service.append(len(drafts) / times["service"])
        result.baseline.append(len(drafts) / times["baseline"])
        print(
            f"  round {r + 1}/{rounds}: service {result.service[-1]:.0f} req/s ({times['service']:.2f} s), "
            f"baseline {result.baseline[-1]:.0f} req/s ({times['baseline']:.2f} s), "
            f"ratio {result.service[-1] / result.baseline[-1]:.2f}x",
            flush=True,
        )
    return result


def count_rows(conn: sqlite3.Connection | psycopg.Connection[tuple[object]]) -> tuple[int, int]:
    """Rows in ``requests`` and ``request_events``: a check that every request was written with its event."""
    counts = []
    for table in ("requests", "request_events"):
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - fixed table names
        counts.append(int(str(row[0])) if row else 0)
    return counts[0], counts[1]


def check_counts(side: str, counts: tuple[int, int], expected: int) -> None:
    if counts != (expected, expected):
        raise RuntimeError(f"{side}: expected {expected} requests and events, found {counts}")


def bench_sqlite(tmp: Path, n: int, rounds: int) -> None:
    """The service on a node's own SQLite file, the baseline on a second file migrated the same way."""
    settings = Settings(data_dir=tmp / "node", database_url=None)
    service_engine = open_database(settings)
    node = bootstrap(settings, engine=service_engine)
    case = case_row(node)
    baseline_path = tmp / "baseline.db"
    engine = make_engine(f"sqlite:///{baseline_path}")
    migrations.upgrade(engine)
    engine.dispose()
    run_baseline, conn = sqlite_baseline(baseline_path)
    try:
        conn.execute(
            "INSERT INTO cases (id, reference, offence, max_penalty_years, summary, legal_qualification, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*case[:6], sqlite_timestamp(case[6])),
        )
        drafts = make_drafts(case[0], n, datetime.now(UTC))
        print(f"SQLite (WAL, synchronous=FULL), {rounds} rounds of {n} requests per side")
        result = alternate(service_side(node), run_baseline, drafts, rounds)
        check_counts("baseline", count_rows(conn), n * rounds)
    finally:
        conn.close()
    service_engine.dispose()
    service_conn = sqlite3.connect(tmp / "node" / "hanoinet.db")
    try:
        check_counts("service", count_rows(service_conn), n * rounds)
    finally:
        service_conn.close()
    print(result.line("requests", "sqlite3"))


def _scratch_database(server_url: str, name: str) -> str:
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_postgres(tmp: Path, server_url: str, n: int, rounds: int) -> None:
    """Both sides on PostgreSQL, each in a scratch database of the server, dropped afterwards."""
    tag = uuid.uuid4().hex[:8]
    names = (f"hanoinet_bench_service_{tag}", f"hanoinet_bench_baseline_{tag}")
    try:
        service_url, baseline_url = (_scratch_database(server_url, name) for name in names)
        engine = make_engine(service_url)
        migrations.upgrade(engine)
        node = bootstrap(Settings(data_dir=tmp / "node-pg", database_url=service_url), engine=engine)
        case = case_row(node)
        run_baseline, conn = postgres_baseline(_migrated_url(baseline_url))
        try:
            conn.execute(
                "INSERT INTO cases (id, reference, offence, max_penalty_years, summary, legal_qualification, "
                "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                case,
            )
            conn.commit()
            drafts = make_drafts(case[0], n, datetime.now(UTC))
            print(f"PostgreSQL ({shown_url(server_url)}), {rounds} rounds of {n} requests per side")
            print(environment(server_url))
            result = alternate(service_side(node), run_baseline, drafts, rounds)
            check_counts("baseline", count_rows(conn), n * rounds)
        finally:
            conn.close()
        with psycopg.connect(libpq_url(service_url)) as service_conn:
            check_counts("service", count_rows(service_conn), n * rounds)
        engine.dispose()
        print(result.line("requests (postgresql)", "psycopg"))
    finally:
        for name in names:
            _drop_database(server_url, name)


def _migrated_url(url: str) -> str:
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    return url


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=2000, help="requests per side per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the median is reported")
    parser.add_argument(
        "--database-url", help="run on this PostgreSQL server (postgresql+psycopg://...) instead of SQLite"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="also run on a throwaway PostgreSQL cluster with fsync on"
    )
    args = parser.parse_args(argv)
    if args.database_url is not None and not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a postgresql+psycopg:// URL (SQLite is the default)")
    options = ["--n", str(args.n), "--rounds", str(args.rounds)]
    if args.database_url:
        options += ["--database-url", shown_url(args.database_url)]
    if args.postgres:
        options.append("--postgres")
    print(reproduce("requests.py", options))
    print(environment())
    with temporary_directory("hanoinet-bench-requests-") as tmp:
        if args.database_url is None:
            bench_sqlite(tmp, args.n, args.rounds)
        else:
            bench_postgres(tmp, args.database_url, args.n, args.rounds)
        if args.postgres:
            with throwaway_postgres(tmp, durable=True) as url:
                bench_postgres(tmp, url, args.n, args.rounds)


if __name__ == "__main__":
    main()
