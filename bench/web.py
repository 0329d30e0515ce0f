#!/usr/bin/env python3
"""The operator web UI's pages against the JSON API they sit beside, on a node holding many requests.

What is measured: the time for a signed-in browser session to get each main page from a real ``hanoinet serve``
process (HTTP on loopback, one request at a time, like one operator) — the inbox (open requests, and due within
24 h), a request's page, the composer with a type chosen, the evidence list, the treaty dashboard and the statistics
— and, as the baseline measured in the same run on the same node, the JSON API call that reads the same data with
an API token (the inbox and a request; the treaty status). Each page costs what its API call costs plus the
session check, the audit entry both write, and rendering: the ratio says what the web layer adds. p50/p95 are
printed per page, and the ratio of the page's p50 to its API baseline's p50.

Why: a duty officer's inbox at 3 a.m. must come up at once on a node that has kept years of requests.

The fill is not measured: ``--rows`` requests (100,000 by default) and their cases go straight into the tables
(``bench/inbox.py``'s loader); one account and one API token are made with the CLI. Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from common import environment, percentiles, reproduce, serving, sign_in, temporary_directory, timed
from inbox import fill_sqlite

PASSWORD = "a long passphrase for the bench desk"  # noqa: S105 - a throwaway account on a throwaway node
HANOINET = str(Path(sys.executable).parent / "hanoinet")


def prepare(data_dir: Path, rows: int, cases: int, seed: int, env: dict[str, str]) -> str:
    """A node with ``rows`` requests, an operator account, and an API token (returned) with the same roles."""

    def hanoinet(*args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            [HANOINET, *args], env=env, input=stdin, capture_output=True, text=True, check=True
        ).stdout.strip()

    hanoinet("init")
    fill_sqlite(data_dir / "hanoinet.db", rows, cases, seed, datetime.now(UTC), analyze=False)
    roles = ["--role", "central_authority", "--role", "auditor"]
    hanoinet("user", "add", "operator", *roles, "--password-stdin", stdin=PASSWORD + "\n")
    return hanoinet("token", "add", "bench", *roles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000, help="requests in the node's database (default 100000)")
    parser.add_argument("--cases", type=int, default=3000, help="cases (default 3000)")
    parser.add_argument("--count", type=int, default=200, help="timed calls of each page (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(reproduce("web.py", ["--rows", str(args.rows), "--count", str(args.count), "--seed", str(args.seed)]))
    print(environment())
    with temporary_directory("hanoinet-bench-web-") as tmp:
        data_dir = tmp / "node"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_")}
        env.update(HANOINET_DATA_DIR=str(data_dir), HANOINET_NODE_STATE="VNM", NO_COLOR="1")
        started = time.perf_counter()
        token = prepare(data_dir, args.rows, args.cases, args.seed, env)
        print(f"node prepared with {args.rows:,} requests in {time.perf_counter() - started:.0f} s")
        with serving(env, tmp / "serve.log") as base:
            run(base, token, args.count)


def run(base: str, token: str, count: int) -> None:
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    web = httpx.Client(base_url=base, timeout=30)
    sign_in(web, "operator", PASSWORD)
    inbox = api.get("/api/v1/requests", params={"open_only": "true", "limit": 1}).json()
    request_id = inbox[0]["id"]
    case_id = inbox[0]["case_id"]
    pairs: list[tuple[str, Callable[[], httpx.Response], Callable[[], httpx.Response] | None]] = [
        (
            "inbox, open requests (50 a page)",
            lambda: web.get("/inbox", params={"open": "true"}),
            lambda: api.get("/api/v1/requests", params={"open_only": "true"}),
        ),
        (
            "inbox, due within 24 h",
            lambda: web.get("/inbox", params={"due": "24h"}),
            lambda: api.get("/api/v1/requests", params={"due_within_hours": 24}),
        ),
        (
            "a request's page",
            lambda: web.get(f"/requests/{request_id}"),
            lambda: api.get(f"/api/v1/requests/{request_id}"),
        ),
        (
            "composer, preservation chosen",
            lambda: web.get(
                "/compose", params={"kind": "uncc-2024:preservation", "requested_state": "KHM", "case": case_id}
            ),
            None,
        ),
        ("treaty dashboard", lambda: web.get("/treaty"), lambda: api.get("/api/v1/treaty/uncc-2024/status")),
        ("statistics, last 12 months", lambda: web.get("/statistics"), lambda: api.get("/api/v1/statistics")),
        ("evidence list", lambda: web.get("/evidence"), lambda: api.get("/api/v1/evidence")),
    ]
    print(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8}   {'API p50':>8} {'API p95':>8}   {'page/API p50':>12}")
    for name, page, baseline in pairs:
        page_ms = timed(page, count)
        p50, p95, _ = percentiles(page_ms)
        if baseline is None:
            print(f"{name:34} {p50:8.1f} {p95:8.1f}   {'—':>8} {'—':>8}   {'—':>12}")
            continue
        api_ms = timed(baseline, count)
        b50, b95, _ = percentiles(api_ms)
        print(f"{name:34} {p50:8.1f} {p95:8.1f}   {b50:8.1f} {b95:8.1f}   {p50 / b50:11.2f}x")
    size = len(web.get("/inbox", params={"open": "true"}).content)
    rows = len(re.findall(r"<tr class=", web.get("/inbox", params={"open": "true"}).text))
    print(f"inbox page: {size / 1024:.0f} KiB for {rows} rows")


if __name__ == "__main__":
    main()
