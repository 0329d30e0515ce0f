"""Start-up time of the ``hanoinet`` command (issue 10): ``--help``, ``treaty status --json`` and ``request list``,
each the median of N runs in a fresh interpreter (a subprocess) on a temporary data directory, against the
baseline of the same command through the eager path — every capability's CLI module, the bootstrap and the API
imported before the command runs, as the root command did before it became lazy.

The baseline runs ``python -c "import <every CLI module>, hanoinet.app.api, hanoinet.app.bootstrap; main()"`` with
the full CLI's ``hanoinet.app.cli.main`` (so no quick path either); the figures run the ``hanoinet`` console
script. Bytecode is written (PYTHONDONTWRITEBYTECODE unset) and each command runs once before it is timed, so
neither side pays for compiling.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import environment, reproduce, temporary_directory

from hanoinet.app.cli import SUBCOMMANDS

BIN = Path(sys.executable).parent
HANOINET = str(BIN / "hanoinet")
EAGER_MODULES = sorted(
    {module for module, _, _ in SUBCOMMANDS.values()} | {"hanoinet.app.api", "hanoinet.app.bootstrap"}
)
EAGER = f"import {', '.join(EAGER_MODULES)}\nfrom hanoinet.app.cli import main\nmain()"
COMMANDS = {
    "--help": ["--help"],
    "treaty status --json": ["treaty", "status", "--json"],
    "request list": ["request", "list"],
}
PARTIES = (
    *("VNM", "THA", "KHM", "LAO", "MYS", "IDN", "PHL", "SGP", "CHN", "JPN", "KOR", "IND", "AUS", "BRA", "NGA"),
    *("FRA", "DEU", "ITA", "ESP", "PRT", "NLD", "BEL", "AUT", "CHE", "NOR", "SWE", "FIN", "DNK", "POL", "CZE"),
    *("HUN", "ROU", "BGR", "GRC", "TUR", "EGY", "MAR", "TUN", "KEN", "GHA", "SEN", "CIV"),
)


def deposits() -> str:
    """A deposit table that puts the UN Convention in force: 42 States sign, then ratify."""
    rows = ["state,action,date"]
    rows += [f"{state},signature,2025-10-25" for state in PARTIES]
    rows += [f"{state},ratification,2026-01-{1 + i % 28:02d}" for i, state in enumerate(PARTIES)]
    return "\n".join(rows) + "\n"


def timed(command: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of ``command`` in seconds, after one untimed run."""
    samples = []
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed: {done.stderr.decode()[-500:]}")
        if i:
            samples.append(elapsed)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=11, help="timed runs of each command (median reported)")
    options = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"HANOINET_NODE_STATE": "VNM", "NO_COLOR": "1", "COLUMNS": "120"})
    with temporary_directory("hanoinet-bench-cli-") as base:
        data_dir = base / "node"
        table = base / "deposits.csv"
        table.write_text(deposits(), encoding="utf-8")
        subprocess.run([HANOINET, "--data-dir", str(data_dir), "treaty", "import", str(table)], env=env, check=True)
        print(f"hanoinet start-up, median of {options.runs} runs, fresh interpreter each; baseline: the eager path")
        for name, args in COMMANDS.items():
            now = timed([HANOINET, "--data-dir", str(data_dir), *args], env, options.runs)
            before = timed([sys.executable, "-c", EAGER, "--data-dir", str(data_dir), *args], env, options.runs)
            ratio = before / now
            print(f"  hanoinet {name:<22} {now * 1000:6.0f} ms   baseline {before * 1000:6.0f} ms  {ratio:4.1f}x")
    print(environment())
    print(reproduce("cli.py", [f"--runs={options.runs}"]))


if __name__ == "__main__":
    main()
