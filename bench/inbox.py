#!/usr/bin/env python3
"""Inbox queries on a large ``requests`` table, through the service layer.

What is measured: ``hanoinet.requests.service.inbox`` (one unit of work, the repository's inbox statement, rows
mapped to ``RequestSummary``) on a database holding ``--rows`` requests (1,000,000 by default) — the queries a duty
officer and a case handler run all day: due within 24 h, overdue, by counterpart State and type, by State + type
due within 7 days, open requests newest first. Each runs ``--queries`` times with varied parameters (random State,
type, direction, "now"); p50/p95/p99 latencies are printed against the goal p95 <= 100 ms. A query that misses the
goal gets its plan printed (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL; ``--explain`` prints all).

Why: a node of a busy central authority accumulates hundreds of thousands of requests over the years; the inbox
must stay instant, which is what the ``next_due_at`` projection and the ``requests`` indexes are for.

The fill is not what is measured: rows go straight into the ``requests`` and ``cases`` tables created by
hanoinet's migrations (secondary indexes dropped during the load and recreated exactly as the migrations made
them), with a realistic distribution: ~15 counterpart States (a few frequent partners), the 14 request types of
the UN Convention (some under the Budapest Convention), 80% decided, ~20% open with ``next_due_at`` spread over
-30..+90 days around now (NULL otherwise), a few thousand cases. ``request_events`` stays empty: the inbox never
reads it. SQLite is not ANALYZEd (hanoinet does not run ANALYZE); PostgreSQL is VACUUM ANALYZEd after the load, as
autovacuum would do on a live table. With ``--postgres`` the same runs on a throwaway PostgreSQL cluster
(``scripts/pg_throwaway.py``; fsync=off, which does not matter for reads).

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from common import (
    COUNTERPARTS,
    NODE_STATE,
    complete_items,
    environment,
    libpq_url,
    percentiles,
    reproduce,
    sqlite_timestamp,
    temporary_directory,
    throwaway_postgres,
)
from sqlalchemy import Engine, event

from hanoinet.app.bootstrap import bootstrap
from hanoinet.platform import migrations
from hanoinet.platform.db import make_engine
from hanoinet.platform.settings import Settings
from hanoinet.requests.domain import OPEN_STATES, Direction, RequestState
from hanoinet.requests.ports import InboxQuery
from hanoinet.requests.service import inbox
from hanoinet.rules.loader import load_builtin_packs

GOAL_P95_MS = 100.0
WARMUP = 10
CHUNK = 50_000
DAY = 86_400.0

T = TypeVar("T")

# Relative frequency of each request type of the UN Convention pack (a central authority's year, roughly).
TYPE_WEIGHTS = {
    "mla": 20,
    "preservation": 15,
    "law_enforcement_information": 14,
    "mla_stored_data": 10,
    "traffic_data_disclosure": 8,
    "emergency": 6,
    "spontaneous_information": 5,
    "extradition": 4,
    "provisional_arrest": 3,
    "mla_realtime_traffic_data": 3,
    "mla_interception": 2,
    "joint_investigation": 3,
    "confiscation": 4,
    "return_of_assets": 3,
}
COUNTERPART_WEIGHTS = [1 / (rank + 1) ** 0.8 for rank in range(len(COUNTERPARTS))]

S = RequestState
DECIDED = {S.CLOSED: 55, S.EXECUTED: 15, S.REFUSED: 4, S.WITHDRAWN: 3, S.RELEASED: 2}  # 79%
OPEN = {S.SENT: 5, S.RECEIVED: 3, S.ACKNOWLEDGED: 4, S.IN_EXECUTION: 5, S.MORE_INFORMATION_REQUESTED: 1}  # 18%
OPEN_PRESERVATION = {S.PRESERVED: 1, S.POSTPONED: 1}  # 2%
DRAFTS = {S.DRAFT: 1}  # 1%
STATE_WEIGHTS = {**DECIDED, **OPEN, **OPEN_PRESERVATION, **DRAFTS}
NEXT_CLOCK = {S.SENT: "acknowledge", S.RECEIVED: "acknowledge", S.PRESERVED: "preservation"}

OFFENCES = ("illegal_access", "data_interference", "system_interference", "theft_or_fraud", "csam", "laundering")

REQUEST_COLUMNS = (
    "id",
    "case_id",
    "instrument",
    "type",
    "direction",
    "requesting_state",
    "requested_state",
    "counterpart_state",
    "items",
    "emergency",
    "deadline",
    "follows_up",
    "state",
    "created_at",
    "updated_at",
    "version",
    "next_due_at",
    "next_clock",
    "is_open",
)
CASE_COLUMNS = ("id", "reference", "offence", "max_penalty_years", "summary", "legal_qualification", "created_at")


def sorted_ids(rng: random.Random, n: int) -> list[str]:
    """N random (version 4) UUIDs, sorted, so that the primary key index is filled in order."""
    return sorted(str(uuid.UUID(bytes=rng.randbytes(16), version=4)) for _ in range(n))


def choices(rng: random.Random, weights: dict[T, int] | dict[T, float], k: int) -> list[T]:
    keys = list(weights)
    return rng.choices(keys, cum_weights=list(accumulate(weights.values())), k=k)


def case_rows(rng: random.Random, n: int, now: datetime, ts: Callable[[datetime], Any]) -> list[tuple[Any, ...]]:
    """A few thousand cases opened over the last six years."""
    return [
        (
            case_id,
            f"{NODE_STATE}-{i:06d}",
            rng.choice(OFFENCES),
            rng.randint(3, 20),
            "Intrusion, fraud or abuse investigated by the national police; servers and accounts abroad.",
            "",
            ts(now - timedelta(seconds=rng.uniform(0, 6 * 365 * DAY))),
        )
        for i, case_id in enumerate(sorted_ids(rng, n))
    ]


def request_rows(
    rng: random.Random, n: int, case_ids: Sequence[str], now: datetime, ts: Callable[[datetime], Any]
) -> Iterator[list[tuple[Any, ...]]]:
    """Chunks of ``requests`` rows with the distribution described in the module docstring."""
    packs = load_builtin_packs()
    budapest = {t.key for t in packs["budapest-ets185"].request_types}
    items = {
        (instrument, rtype.key): json.dumps(complete_items(packs, instrument, rtype.key))  # as SQLAlchemy writes
        for instrument, pack in packs.items()
        for rtype in pack.request_types
    }
    ids = sorted_ids(rng, n)
    for start in range(0, n, CHUNK):
        k = min(CHUNK, n - start)
        types = choices(rng, TYPE_WEIGHTS, k)
        counterparts = rng.choices(COUNTERPARTS, weights=COUNTERPART_WEIGHTS, k=k)
        states = choices(rng, STATE_WEIGHTS, k)
        chunk = []
        for i in range(k):
            rtype, counterpart, state = types[i], counterparts[i], states[i]
            instrument = "budapest-ets185" if rtype in budapest and rng.random() < 0.2 else "uncc-2024"
            outgoing = rng.random() < 0.55
            is_open = state in OPEN or state in OPEN_PRESERVATION
            if is_open:
                due: datetime | None = now + timedelta(seconds=rng.uniform(-30 * DAY, 90 * DAY))
                created = now - timedelta(seconds=rng.uniform(0, 200 * DAY))
            else:
                due = None
                created = now - timedelta(seconds=rng.uniform(0, 5 * 365 * DAY))
            updated = min(now, created + timedelta(seconds=rng.uniform(0, 60 * DAY)))
            deadline = created + timedelta(days=30) if rng.random() < 0.1 else None
            chunk.append(
                (
                    ids[start + i],
                    rng.choice(case_ids),
                    instrument,
                    rtype,
                    "outgoing" if outgoing else "incoming",
                    NODE_STATE if outgoing else counterpart,
                    counterpart if outgoing else NODE_STATE,
                    counterpart,
                    items[instrument, rtype],
                    rtype == "emergency" or rng.random() < 0.02,
                    ts(deadline) if deadline else None,
                    None,
                    state.value,
                    ts(created),
                    ts(updated),
                    rng.randint(1, 6) if state is not S.DRAFT else 0,
                    ts(due) if due else None,
                    NEXT_CLOCK.get(state, "respond") if due else None,
                    state in OPEN_STATES,
                )
            )
        yield chunk


def fill_sqlite(path: Path, rows: int, cases: int, seed: int, now: datetime, *, analyze: bool) -> None:
    """Load cases and requests with the ``sqlite3`` module: no journal, no sync, indexes built after the load.

    With ``analyze``, gather planner statistics afterwards (what ``PRAGMA optimize`` would do on a live node).
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY"):
            conn.execute(f"PRAGMA {pragma}")
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'requests' AND sql IS NOT NULL"
        ).fetchall()
        rng = random.Random(seed)
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        case_data = case_rows(rng, cases, now, sqlite_timestamp)
        conn.executemany(_insert_sql("cases", CASE_COLUMNS, "?"), case_data)
        insert = _insert_sql("requests", REQUEST_COLUMNS, "?")
        for chunk in request_rows(rng, rows, [c[0] for c in case_data], now, sqlite_timestamp):
            conn.executemany(insert, chunk)
        for _, sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
        if analyze:
            conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def fill_postgres(url: str, rows: int, cases: int, seed: int, now: datetime) -> None:
    """Load with COPY; secondary indexes rebuilt after the load; FK triggers skipped (the data is consistent)."""
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'requests' AND indexname <> 'pk_requests'"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        rng = random.Random(seed)
        case_data = case_rows(rng, cases, now, lambda d: d)
        with conn.cursor() as cur:
            with cur.copy(f"COPY cases ({', '.join(CASE_COLUMNS)}) FROM STDIN") as copy:
                for row in case_data:
                    copy.write_row(row)
            with cur.copy(f"COPY requests ({', '.join(REQUEST_COLUMNS)}) FROM STDIN") as copy:
                for chunk in request_rows(rng, rows, [c[0] for c in case_data], now, lambda d: d):
                    for row in chunk:
                        copy.write_row(row)
        for _, sql in indexes:
            conn.execute(sql)
        conn.commit()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) cases")
        conn.execute("VACUUM (ANALYZE) requests")


def _insert_sql(table: str, columns: Sequence[str], mark: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"  # noqa: S608


@dataclass(frozen=True)
class Kind:
    """One inbox query: a name and how to draw its parameters."""

    name: str
    draw: Callable[[random.Random, datetime], InboxQuery]


def _jitter(rng: random.Random, now: datetime) -> datetime:
    return now + timedelta(seconds=rng.uniform(-3 * DAY, 3 * DAY))


def _state(rng: random.Random) -> str:
    return rng.choice(COUNTERPARTS)


def _type(rng: random.Random) -> str:
    return rng.choice(list(TYPE_WEIGHTS))


KINDS = (
    Kind("due_within_24h", lambda rng, now: InboxQuery(now=_jitter(rng, now), due_within_seconds=int(DAY))),
    Kind("overdue", lambda rng, now: InboxQuery(now=_jitter(rng, now), overdue=True)),
    Kind("state_type", lambda rng, now: InboxQuery(now=now, counterpart_state=_state(rng), type=_type(rng))),
    Kind(
        "state_type_due_7d",
        lambda rng, now: InboxQuery(
            now=_jitter(rng, now), counterpart_state=_state(rng), type=_type(rng), due_within_seconds=int(7 * DAY)
        ),
    ),
    Kind(
        "open_newest",
        lambda rng, now: InboxQuery(now=now, open_only=True, direction=rng.choice([None, *Direction])),
    ),
)


@dataclass
class Timing:
    """Latencies of one query kind, the rows they returned, and the slowest query (to explain it)."""

    kind: Kind
    ms: list[float]
    rows: list[int]
    slowest: InboxQuery


def time_queries(
    url: str, engine: Engine, data_dir: Path, *, queries: int, budget: float, seed: int, now: datetime
) -> list[Timing]:
    """Run every query kind through the service layer: a few untimed warm-ups, then ``queries`` timed calls.

    A kind that takes more than ``budget`` seconds stops early: its figures come from fewer samples (printed).
    """
    node = bootstrap(Settings(data_dir=data_dir, database_url=url), engine=engine)
    rng = random.Random(seed)
    timings = []
    for kind in KINDS:
        for _ in range(WARMUP):
            inbox(node, kind.draw(rng, now))
        timing = Timing(kind, [], [], kind.draw(rng, now))
        worst = -1.0
        deadline = time.perf_counter() + budget
        for _ in range(queries):
            if time.perf_counter() > deadline:
                break  # a slow query kind: keep the run short, report on the samples we have
            query = kind.draw(rng, now)
            started = time.perf_counter()
            result = inbox(node, query)
            elapsed = (time.perf_counter() - started) * 1000
            timing.ms.append(elapsed)
            timing.rows.append(len(result))
            if elapsed > worst:
                worst, timing.slowest = elapsed, query
        timings.append(timing)
    return timings


def report(label: str, timings: Sequence[Timing]) -> list[Timing]:
    """Print one line per query kind; return the kinds that missed the goal."""
    missed = []
    for t in timings:
        p50, p95, p99 = percentiles(t.ms)
        rows = sum(t.rows) / len(t.rows)
        print(
            f"{label} {t.kind.name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms "
            f"(goal p95 <= {GOAL_P95_MS:.0f} ms)  [{len(t.ms)} queries, {rows:.0f} rows on average]"
        )
        if p95 > GOAL_P95_MS:
            missed.append(t)
    return missed


def explain(engine: Engine, data_dir: Path, url: str, query: InboxQuery, name: str) -> None:
    """Print the plan of the statement the repository runs for ``query`` (captured from the engine)."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    node = bootstrap(Settings(data_dir=data_dir, database_url=url), engine=engine)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        inbox(node, query)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    print(f"  plan of {name} ({_describe(query)}):")
    print("    " + " ".join(statement.split()))
    with engine.connect() as conn:
        for row in conn.exec_driver_sql(prefix + statement, parameters):
            print("    " + (str(row[3]) if sqlite else str(row[0])))


def _describe(query: InboxQuery) -> str:
    defaults = InboxQuery(now=query.now)
    changed = {k: getattr(query, k) for k in query.__slots__ if getattr(query, k) != getattr(defaults, k)}
    return ", ".join(f"{k}={v}" for k, v in changed.items())


def run(label: str, url: str, tmp: Path, fill: Callable[[str, datetime], None], args: argparse.Namespace) -> None:
    """Migrate, fill, time, report and explain on one backend."""
    engine = make_engine(url)
    try:
        migrations.upgrade(engine)
        engine.dispose()
        now = datetime.now(UTC)
        started = time.perf_counter()
        fill(url, now)
        stats = " (ANALYZEd)" if args.analyze and label == "sqlite" else ""
        print(
            f"{label}: filled {args.rows} requests and {args.cases} cases "
            f"in {time.perf_counter() - started:.1f} s{stats}"
        )
        started = time.perf_counter()
        timings = time_queries(
            url, engine, tmp / "node", queries=args.queries, budget=args.budget, seed=args.seed, now=now
        )
        print(f"{label}: queries timed in {time.perf_counter() - started:.1f} s")
        missed = report("inbox" if label == "sqlite" else f"inbox ({label})", timings)
        for t in timings if args.explain else missed:
            explain(engine, tmp / "node", url, t.slowest, t.kind.name)
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="requests to load (default 1000000)")
    parser.add_argument("--cases", type=int, default=3000, help="cases to load (default 3000)")
    parser.add_argument("--queries", type=int, default=200, help="timed runs of each query kind (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and of the query parameters")
    parser.add_argument(
        "--budget", type=float, default=20.0, help="seconds after which a slow query kind stops early (default 20)"
    )
    parser.add_argument(
        "--analyze", action="store_true", help="ANALYZE the SQLite database after the load (hanoinet does not)"
    )
    parser.add_argument("--postgres", action="store_true", help="also run on a throwaway PostgreSQL cluster")
    parser.add_argument("--explain", action="store_true", help="print the plan of every query kind, not only misses")
    args = parser.parse_args(argv)
    options = ["--rows", str(args.rows), "--cases", str(args.cases), "--queries", str(args.queries)]
    options += ["--seed", str(args.seed), "--budget", f"{args.budget:g}"]
    options += [
        flag
        for flag, on in (("--analyze", args.analyze), ("--postgres", args.postgres), ("--explain", args.explain))
        if on
    ]
    print(reproduce("inbox.py", options))
    print(environment())
    started = time.perf_counter()
    with temporary_directory("hanoinet-bench-inbox-") as tmp:
        path = tmp / "inbox.db"
        run(
            "sqlite",
            f"sqlite:///{path}",
            tmp,
            lambda _url, now: fill_sqlite(path, args.rows, args.cases, args.seed, now, analyze=args.analyze),
            args,
        )
        path.unlink()
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        if args.postgres:
            with throwaway_postgres(tmp, durable=False) as url:
                print(environment(url))
                run(
                    "postgresql",
                    url,
                    tmp,
                    lambda url, now: fill_postgres(url, args.rows, args.cases, args.seed, now),
                    args,
                )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
