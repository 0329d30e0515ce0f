#!/usr/bin/env python3
"""Federation between two real nodes on loopback: messages per second, latency at a fixed rate, evidence transfer.

Two ``hanoinet serve`` processes (Viet Nam's central authority "A", Singapore's 24/7 point of contact "B"), each with
its own data directory and SQLite database (WAL, synchronous=FULL: a receipt is sent only after the messages are
committed), trust each other's signed directory entries. Then:

1. **Throughput**: ``--messages`` messages (spontaneous information, ~300 bytes of text each) are submitted to A's
   API in batches of 500 by one client; A signs each, queues it, and its worker seals batches (JWS in JWE) to B;
   B verifies, commits and answers with a signed receipt that A verifies and records. The figure is the number of
   messages divided by the time from the first submission to the last receipt recorded at A: the sustained rate
   of the whole path, submission included. Goal >= 2,000 msg/s.
2. **Latency at a fixed offered rate** of ``--rate`` messages per second (default 200), one message per API call,
   paced by the clock for ``--seconds``: each message's latency runs from the client's call to the receipt
   recorded at A (``delivered_at``; same machine clock). p50, p99 and the maximum. Goal p99 <= 100 ms.
3. **Transfer** of one ``--size-mib`` item (default 1024) from B's vault to A's, against the machine's limit
   measured in the same run on the same file: the slower of ``openssl dgst -sha256`` and a durable ``dd ...
   conv=fsync`` copy onto A's file system (the same limit as ``bench/vault.py``). Time is the sender's, from the
   transfer's creation to the receipt (offer, chunks, whole-file check, custody on both sides). Goal >= 0.5x.
4. **Memory**: each node's peak RSS (``VmHWM``: server + worker process) after the message phases and after each
   transfer; with
   ``--sizes`` several item sizes are sent one after the other, so a flat peak shows memory does not grow with the
   item. Goal: flat.

Everything runs on this machine's two cores at once (client, both nodes, openssl, dd): the figures are for the
whole system, not a node alone. ``--quick`` runs smaller message phases (the transfer stays 1 GiB) in < 45 s.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from hanoinet.accounts import tokens
from hanoinet.app import bootstrap as boot
from hanoinet.platform.permissions import Role
from hanoinet.platform.settings import Settings
from hanoinet.treaty import service as treaty
from hanoinet.treaty.csv_import import parse_deposit_rows

BIN = Path(sys.executable).parent / "hanoinet"
MIB = 1024 * 1024
BLOCK = 64 * MIB
PAGE = 4096
PARTIES = [
    "VNM",
    "SGP",
    "CHL",
    "THA",
    "MYS",
    "IDN",
    "PHL",
    "CHN",
    "JPN",
    "KOR",
    "MNG",
    "IND",
    "PAK",
    "BGD",
    "LKA",
    "NPL",
    "AUS",
    "NZL",
    "FJI",
    "BRA",
    "ARG",
    "COL",
    "PER",
    "URY",
    "MEX",
    "CAN",
    "NGA",
    "GHA",
    "KEN",
    "ZAF",
    "EGY",
    "MAR",
    "TUN",
    "SEN",
    "CIV",
    "ETH",
    "RWA",
    "UGA",
    "KHM",
    "LAO",
]
"""Forty Parties (benchmark data, not the treaty's real status): the Convention is in force between A and B."""
TEXT = "Traffic data of the command server, as disclosed by the provider; " * 5


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    """One node process."""

    node_id: str
    state: str
    roles: str
    base: Path
    port: int = field(default_factory=free_port)
    token: str = ""
    process: subprocess.Popen[bytes] | None = None
    http: str = "h11"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.base / self.node_id

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_")}
        env.update(
            HANOINET_DATA_DIR=str(self.data_dir),
            HANOINET_NODE_STATE=self.state,
            HANOINET_NODE_ID=self.node_id,
            HANOINET_NODE_NAME=f"{self.state} ({self.roles}, benchmark)",
            HANOINET_NODE_ROLES=self.roles,
            HANOINET_NODE_ENDPOINT=self.url,
            HANOINET_ROLES="central_authority",
            HANOINET_SERVE_HTTP=self.http,
            HANOINET_ALLOW_PRIVATE_PEERS="true",  # both nodes listen on 127.0.0.1 (refused by default: SSRF)
            NO_COLOR="1",
        )
        return env

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(BIN), *args], env=self.env(), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"hanoinet {shlex.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def start(self) -> None:
        log = (self.base / f"{self.node_id}.log").open("ab")
        self.process = subprocess.Popen(
            [str(BIN), "serve", "--port", str(self.port)], env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.node_id} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def pids(self) -> list[int]:
        """The server process and its worker process (``serve`` runs deliveries in a child)."""
        assert self.process is not None
        found = [self.process.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == self.process.pid:
                    found.append(int(entry.name))
        return found

    def peak_rss_mib(self) -> str:
        """Peak resident set so far (VmHWM) of the server and of its worker, MiB."""
        peaks = []
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) // 1024)
        return " + ".join(str(p) for p in peaks)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, headers={"Authorization": f"Bearer {self.token}"})


def prepare(node: Node) -> None:
    """Keys, schema, benchmark treaty data and an API token, in this process (faster than the command line)."""
    settings = Settings(
        data_dir=node.data_dir,
        node_state=node.state,
        node_id=node.node_id,
        node_roles=node.roles,
        node_endpoint=node.url,
    )
    n = boot.bootstrap(settings)
    lines = ["state,action,date"]
    for party in PARTIES:
        lines += [f"{party},signature,2025-10-25", f"{party},ratification,2026-01-12"]
    treaty.import_deposits(n, parse_deposit_rows("\n".join(lines) + "\n", "benchmark"), "uncc-2024")
    node.token = tokens.create_token(n, "bench", [Role.CENTRAL_AUTHORITY, Role.ADMINISTRATOR])


def setup(base: Path, http: str = "h11") -> tuple[Node, Node]:
    """Two prepared, started nodes that trust each other, serving with the ``http`` parser."""
    a = Node("vnm-ca", "VNM", "central_authority", base, http=http)
    b = Node("sgp-247", "SGP", "point_of_contact_24_7,central_authority", base, http=http)
    try:
        for node in (a, b):
            node.data_dir.mkdir(parents=True)
            prepare(node)
            node.start()
        with a.client() as ca, b.client() as cb:
            entry_a, entry_b = ca.get("/federation/v1/entry").json(), cb.get("/federation/v1/entry").json()
            cb.post("/api/v1/directory", json=entry_a).raise_for_status()
            ca.post("/api/v1/directory", json=entry_b).raise_for_status()
    except BaseException:  # a node left running would skew the next run's figures
        a.stop()
        b.stop()
        raise
    return a, b


def outgoing(client: httpx.Client) -> Iterator[dict[str, Any]]:
    """Every outgoing message of A, newest first, page by page."""
    offset = 0
    while True:
        page = client.get("/api/v1/messages", params={"direction": "outgoing", "limit": 1000, "offset": offset}).json()
        yield from page
        if len(page) < 1000:
            return
        offset += 1000


def delivered_count(client: httpx.Client) -> int:
    status = client.get("/api/v1/federation/status").json()
    return int(status["peers"][0]["delivered"]) if status["peers"] else 0


STALL_SECONDS = 60.0
"""How long the benchmark waits beyond a generous rate (50 msg/s) before it reports a stall instead of hanging."""


def throughput(a: Node, count: int) -> float:
    """Messages per second, from the first submission to the last receipt recorded (after a warm-up round)."""
    with a.client() as client:
        before = delivered_count(client)
        started = time.perf_counter()
        for first in range(0, count, 500):
            batch = [
                {"to": "sgp-247", "kind": "spontaneous_information", "text": f"{TEXT} #{first + i}"}
                for i in range(min(500, count - first))
            ]
            client.post("/api/v1/messages", json={"messages": batch}).raise_for_status()
        submitted = time.perf_counter() - started
        give_up = started + STALL_SECONDS + count / 50
        while delivered_count(client) < before + count:
            if time.perf_counter() > give_up:
                status = client.get("/api/v1/federation/status").json()
                raise SystemExit(f"messages not delivered after {give_up - started:.0f} s; federation status: {status}")
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
    print(f"  {count} messages: submitted in {submitted:.2f} s, all receipted after {elapsed:.2f} s", flush=True)
    return count / elapsed


def latency(a: Node, rate: float, seconds: float, warmup: float = 1.0) -> tuple[float, float, float, int]:
    """p50, p99, max latency (ms) from each message's scheduled time to its receipt, at a fixed offered rate.

    Open loop: messages are sent on schedule by a pool of client threads whatever the previous ones are doing, and
    latency counts from the scheduled instant (a slow call delays nothing and hides nothing: no coordinated
    omission). The first ``warmup`` seconds at the same rate are not counted (connections, threads, the database
    settling after the throughput phase): the figure is the steady state.
    """
    skipped = int(rate * warmup)
    total = int(rate * seconds) + skipped
    local = threading.local()
    sent_at: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {a.token}", "Content-Type": "application/json"}

    def send(i: int, scheduled: float) -> None:
        # The standard library's client on a kept-alive connection: the load generator shares the node's two cores,
        # so it should take as little of them as it can (httpx takes several times more per call).
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
        body = {"messages": [{"to": "sgp-247", "kind": "spontaneous_information", "text": f"{TEXT} ~{i}"}]}
        conn.request("POST", "/api/v1/messages", body=json.dumps(body), headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        if answer.status != 201:
            raise RuntimeError(f"the node answered {answer.status}: {data[:200]!r}")
        sent_at[json.loads(data)[0]["id"]] = scheduled

    start_wall, start = time.time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = []
        for i in range(total):
            offset = i / rate
            pause = start + offset - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            futures.append(pool.submit(send, i, start_wall + offset))
        for future in futures:
            future.result()
    counted = {mid for mid, at in sent_at.items() if at >= start_wall + warmup}
    latencies: list[float] = []
    with a.client() as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            delivered = {
                m["id"]: m["delivered_at"] for m in outgoing(client) if m["id"] in sent_at and m["delivered_at"]
            }
            if len(delivered) == total:
                break
            time.sleep(0.2)
    latencies = [
        (datetime.fromisoformat(at).timestamp() - sent_at[mid]) * 1000
        for mid, at in delivered.items()
        if mid in counted
    ]
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49], cuts[98], max(latencies), len(latencies)


def cpu_seconds(node: Node) -> float:
    """CPU time (user + system) the node's processes (server and worker) have used so far."""
    total = 0.0
    for pid in node.pids():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def generate(path: Path, size: int) -> str:
    """A file no two pages of which are equal (not dedupable, not compressible), fsynced; its SHA-256."""
    block = bytearray(os.urandom(BLOCK))
    digest = hashlib.sha256()
    counter = 0
    with path.open("wb") as file:
        left = size
        while left:
            for offset in range(0, BLOCK, PAGE):
                block[offset : offset + 8] = counter.to_bytes(8, "big")
                counter += 1
            piece = memoryview(block)[: min(left, BLOCK)]
            file.write(piece)
            digest.update(piece)
            left -= len(piece)
        file.flush()
        os.fsync(file.fileno())
    return digest.hexdigest()


def timed(argv: list[str]) -> float:
    os.sync()
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - started


def transfer(a: Node, b: Node, size_mib: int, base: Path) -> tuple[float, float, float, str]:
    """Send one item of ``size_mib`` from B to A; return (transfer s, openssl s, dd s, sha256)."""
    source = base / f"evidence-{size_mib}.img"
    sha256 = generate(source, size_mib * MIB)
    openssl_s = timed(["openssl", "dgst", "-sha256", str(source)])
    copy = a.data_dir / "vault" / "dd.copy"
    dd_s = timed(["dd", f"if={source}", f"of={copy}", "bs=8M", "conv=fsync"])
    copy.unlink()
    with a.client() as ca, b.client() as cb:
        reference = f"BENCH-{size_mib}-{os.getpid()}"
        ca.post(
            "/api/v1/cases",
            json={
                "reference": reference,
                "offence": "system_interference",
                "max_penalty_years": 10,
                "summary": "benchmark",
            },
        ).raise_for_status()
        items = {
            "requesting_authority": "Viet Nam central authority",
            "subject_matter": "benchmark",
            "facts_summary": "benchmark",
            "assistance_sought": "the disk image",
            "purpose": "benchmark",
            "stored_data_sought": "the disk image",
            "data_location": "provider",
        }
        created = ca.post(
            "/api/v1/requests",
            json={"case": reference, "type": "mla_stored_data", "requested_state": "SGP", "items": items},
        ).json()
        ca.post(f"/api/v1/requests/{created['id']}/actions", json={"action": "send"}).raise_for_status()
        while cb.get(f"/api/v1/requests/{created['id']}").status_code != 200:
            time.sleep(0.05)
        cb.post(f"/api/v1/requests/{created['id']}/actions", json={"action": "acknowledge"}).raise_for_status()
        case_id = cb.get(f"/api/v1/requests/{created['id']}").json()["case_id"]
        out = b.cli(
            "evidence",
            "ingest",
            str(source),
            "--case",
            case_id,
            "--exhibit",
            f"SGP-{size_mib}",
            "--source",
            "server",
            "--method",
            "physical image",
            "--acquired-by",
            "Inspector Lim",
        )
        item_id = out.split()[1].rstrip(":")
        source.unlink()
        os.sync()
        started = time.perf_counter()
        t = cb.post(
            "/api/v1/transfers",
            json={"to": "vnm-ca", "items": [item_id], "request_id": created["id"], "reason": "benchmark"},
        ).json()
        while (t := cb.get(f"/api/v1/transfers/{t['id']}").json())["state"] not in ("completed", "failed"):
            time.sleep(0.01)
        waited = time.perf_counter() - started
        if t["state"] != "completed":
            raise RuntimeError(f"the transfer failed: {t['error']}")
        seconds = (datetime.fromisoformat(t["updated_at"]) - datetime.fromisoformat(t["created_at"])).total_seconds()
        received = ca.get(f"/api/v1/transfers/{t['id']}").json()["items"][0]
        if received["sha256"] != sha256:
            raise RuntimeError("the receiver stored another SHA-256")
    print(
        f"  {size_mib} MiB: sender's record {seconds:.2f} s (the client saw {waited:.2f} s with its polling)",
        flush=True,
    )
    return seconds, openssl_s, dd_s, sha256


def environment(base: Path) -> str:
    fstype = subprocess.run(["stat", "-f", "-c", "%T", str(base)], capture_output=True, text=True, check=False)
    openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=False).stdout.strip()
    return (
        f"environment: {platform.machine()} {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}; openssl CLI {openssl}; {base} on {fstype.stdout.strip() or '?'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller message phases; finishes in < 45 s")
    parser.add_argument(
        "--http",
        choices=["h11", "httptools"],
        default="h11",
        help="the nodes' HTTP parser (HANOINET_SERVE_HTTP): h11, the default, bounds headers; httptools does not",
    )
    parser.add_argument("--messages", type=int, default=None, help="messages for the throughput phase")
    parser.add_argument("--rate", type=float, default=200.0, help="offered rate for the latency phase (msg/s)")
    parser.add_argument("--seconds", type=float, default=None, help="duration of the latency phase")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="item sizes to transfer, MiB")
    parser.add_argument("--dir", type=Path, default=None, help="where the nodes keep their data")
    args = parser.parse_args()
    count = args.messages or (6000 if args.quick else 30000)
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    sizes = args.sizes or ([1024] if args.quick else [256, 1024, 2048])
    parent = args.dir or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="hanoinet-bench-federation-", dir=parent))
    wall = time.perf_counter()
    print(environment(base) + f"; HTTP parser {args.http}")
    a, b = setup(base, args.http)
    try:
        print(f"nodes up in {time.perf_counter() - wall:.1f} s; load average {os.getloadavg()[0]:.2f}", flush=True)
        throughput(a, 1000)  # warm-up: compiled statements, connection pools, key caches
        cpu_a, cpu_b = cpu_seconds(a), cpu_seconds(b)
        rate = throughput(a, count)
        used_a, used_b = cpu_seconds(a) - cpu_a, cpu_seconds(b) - cpu_b
        print(
            f"throughput: {rate:.0f} msg/s delivered and receipted A -> B (goal >= 2000 msg/s); CPU per message: "
            f"A {used_a / count * 1e6:.0f} us, B {used_b / count * 1e6:.0f} us",
            flush=True,
        )
        p50, p99, worst, n = latency(a, args.rate, seconds)
        print(
            f"latency at {args.rate:.0f} msg/s offered ({n} messages): p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
            f"max {worst:.1f} ms (goal p99 <= 100 ms)",
            flush=True,
        )
        print(f"peak RSS after the messages: A {a.peak_rss_mib()} MiB, B {b.peak_rss_mib()} MiB", flush=True)
        for size in sizes:
            spent, openssl_s, dd_s, _ = transfer(a, b, size, base)
            limit = max(openssl_s, dd_s)
            mb = size * MIB / 1e6
            print(
                f"transfer {size} MiB: {mb / spent:.0f} MB/s, {limit / spent:.2f}x limit "
                f"(openssl {mb / openssl_s:.0f} MB/s, dd conv=fsync {mb / dd_s:.0f} MB/s; "
                "limit = the slower, goal >= 0.5x); "
                f"peak RSS A {a.peak_rss_mib()} MiB, B {b.peak_rss_mib()} MiB",
                flush=True,
            )
    finally:
        a.stop()
        b.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"total {time.perf_counter() - wall:.1f} s; load average after {os.getloadavg()[0]:.2f}")
    options = ["--quick"] if args.quick else []
    options += [f"--http={args.http}"] if args.http != "h11" else []
    options += [f"--messages={args.messages}"] if args.messages else []
    options += [f"--sizes={' '.join(map(str, args.sizes))}"] if args.sizes else []
    print("reproduce: " + shlex.join([".venv/bin/python", "bench/federation.py", *options]))


if __name__ == "__main__":
    main()
