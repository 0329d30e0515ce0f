"""Helpers shared by the benchmarks in ``bench/``: test data from the rule packs, timing statistics, throwaway
databases and the lines that say how to reproduce a figure.

The benchmarks do not import from ``tests/``: the few lines they need (complete request items) are repeated here.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shlex
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import httpx
import psycopg
import sqlalchemy
from sqlalchemy.engine import make_url

from hanoinet.rules.domain import RulePack

ROOT = Path(__file__).resolve().parent.parent

NODE_STATE = "VNM"
"""The State the benchmark node serves: every outgoing request is made by Viet Nam."""

COUNTERPARTS = ("KHM", "LAO", "THA", "MYS", "IDN", "PHL", "SGP", "CHN", "JPN", "KOR", "IND", "AUS", "BRA", "NGA", "FRA")
"""Fifteen counterpart States, the most frequent partners first (the inbox fill weights them that way)."""


def complete_items(packs: dict[str, RulePack], instrument: str, request_type: str) -> dict[str, str]:
    """Every item (required or not) of a request type, filled with readable text naming the item and its article."""
    rtype = packs[instrument].request_type(request_type)
    if rtype is None:
        raise KeyError(f"{instrument} has no request type {request_type!r}")
    return {item.key: f"{item.label} ({item.citation}) for the benchmark" for item in rtype.required_items}


def sqlite_timestamp(value: datetime) -> str:
    """The text SQLAlchemy stores for a ``UTCDateTime`` on SQLite: UTC without offset, always six decimals."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def percentiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """Return p50, p95 and p99 of the samples (inclusive method: no extrapolation beyond the extremes)."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def reproduce(script: str, options: Sequence[str]) -> str:
    """The command line that reproduces a run, from the repository root."""
    return "reproduce: " + shlex.join([".venv/bin/python", f"bench/{script}", *options])


def environment(postgres_url: str | None = None) -> str:
    """One line naming what the figures depend on: machine, Python, SQLite, drivers and the PostgreSQL server."""
    parts = [
        f"{platform.machine()} {os.cpu_count()} cores",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
        f"SQLAlchemy {sqlalchemy.__version__}",
        f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__})",
    ]
    if postgres_url is not None:
        with psycopg.connect(libpq_url(postgres_url)) as conn:
            settings = {
                name: conn.execute(f"SHOW {name}").fetchone()
                for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
            }
        parts.append("PostgreSQL " + ", ".join(f"{k}={v[0] if v else '?'}" for k, v in settings.items()))
    return "environment: " + "; ".join(parts)


def libpq_url(url: str) -> str:
    """Turn a SQLAlchemy ``postgresql+psycopg://`` URL into the libpq URL psycopg connects with."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def shown_url(url: str) -> str:
    """A database URL fit to print: any password hidden."""
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def temporary_directory(prefix: str) -> Iterator[Path]:
    """A temporary directory, removed afterwards; traversable by the ``postgres`` user when we run as root."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        path = Path(name)
        if os.geteuid() == 0:
            path.chmod(0o711)  # the throwaway cluster runs as postgres inside a subdirectory it owns
        yield path


def _pg_throwaway() -> ModuleType:
    """Import ``scripts/pg_throwaway.py`` by path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("pg_throwaway", ROOT / "scripts" / "pg_throwaway.py")
    if spec is None or spec.loader is None:
        raise ImportError("scripts/pg_throwaway.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_durable(url: str) -> None:
    """Refuse to measure durable commits on a server that does not wait for the disk."""
    with psycopg.connect(libpq_url(url)) as conn:
        fsync = conn.execute("SHOW fsync").fetchone()
        commit = conn.execute("SHOW synchronous_commit").fetchone()
    if fsync != ("on",) or commit != ("on",):
        raise RuntimeError(f"the throwaway cluster is not durable: fsync={fsync}, synchronous_commit={commit}")


@contextmanager
def throwaway_postgres(parent: Path, *, durable: bool) -> Iterator[str]:
    """Start a PostgreSQL cluster with ``scripts/pg_throwaway.py`` in ``parent``; yield its URL; stop it after.

    With ``durable``, fsync and synchronous_commit are on, so that a commit waits for the disk as in production;
    without it the cluster keeps pg_throwaway's fsync=off (fine for read benchmarks).
    """
    pg = _pg_throwaway()
    directory = parent / "pg"
    started = time.perf_counter()
    url: str = pg.start(directory, durable=durable)
    try:
        if durable:
            _check_durable(url)
        print(f"throwaway PostgreSQL at {url} ({'durable' if durable else 'fsync=off'}), ", end="")
        print(f"started in {time.perf_counter() - started:.1f} s")
        sys.stdout.flush()
        yield url
    finally:
        pg.stop(directory)


LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


def sign_in(client: httpx.Client, username: str, password: str) -> None:
    """Sign in through the web form as a browser does: open it (its pre-session token, in a cookie and a hidden
    field), then post it — ``POST /login`` without the token is refused (login CSRF)."""
    page = client.get("/login")
    found = LOGIN_TOKEN.search(page.text)
    if found is None:
        raise SystemExit("the sign-in form carries no pre-session token")
    data = {"username": username, "password": password, "login_token": found.group(1)}
    answered = client.post("/login", data=data)
    if answered.status_code != 303:
        raise SystemExit(f"sign-in failed: {answered.status_code}")


def timed(call: Callable[[], httpx.Response], count: int, warm: int = 2) -> list[float]:
    """Milliseconds of ``count`` calls (after ``warm`` unmeasured ones); every call must succeed."""
    for _ in range(warm):
        call().raise_for_status()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{response.request.url} answered {response.status_code}: {response.text[:300]}")
    return samples


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """A ``hanoinet serve`` process on a free loopback port with ``env``, answering ``/health``; its base URL. It
    is stopped on leaving."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    hanoinet = str(Path(sys.executable).parent / "hanoinet")
    with log.open("wb") as out:
        server = subprocess.Popen(
            [hanoinet, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while not _answers(f"{base}/health"):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"the node did not start; see {log}")
                time.sleep(0.1)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
