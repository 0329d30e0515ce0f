"""The API does what its OpenAPI says: schemathesis, every check, against a real node with a central authority's
token — no server error, no status, body or content type the document does not declare.

Other States' clients are written from this document, so a 422 whose body is not the documented one, or a status
no operation lists, is a defect of the node. ``schemathesis.toml`` beside this file relaxes one check on the
operations whose rules are data rather than schema, each with its reason.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import BIN, free_port
from tests.e2e.nodes import NodeProcess, prepare

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = str(BIN / "schemathesis")
MAX_EXAMPLES = 10
"""Per operation and phase: the whole run (examples, coverage, fuzzing, stateful) stays under a minute here."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A node on the network (so the federation routes exist) with a vault, and a central authority's token
    that may also manage accounts."""
    base = tmp_path_factory.mktemp("contract")
    running = NodeProcess("vnm-contract", "VNM", base / "data", free_port())
    prepare(running)
    running.start()
    yield running
    running.stop()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(node: NodeProcess) -> None:
    done = subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file",
            str(CONFIG),
            "run",
            f"{node.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {node.token}",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "1",  # the same cases on every run: a failure here is reproducible with `st replay`
            "--generation-database",
            "none",
            "--workers",
            "1",  # with threads, hypothesis's source cache can race and fail the run on its own
            "--no-color",
        ],
        cwd=node.data_dir.parent,  # its report and cache stay out of the source tree
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in node.log_text(), node.log_text()
