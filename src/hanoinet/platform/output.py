"""How the command line prints, shared by the full CLI (``platform.cli``) and its quick path (``app.quick_read``):
JSON in one format, and consoles made one way, so that both paths print byte for byte the same.

Nothing here is imported at the top but the standard library: rich is loaded when a console is made.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def write_json(data: Any) -> None:
    """Print ``data`` as indented JSON on standard output (dates and other values as their ``str``)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def console(*, stderr: bool = False) -> Console:
    """A console for tables and messages: lines are never wrapped by rich, so a pipe gets whole lines."""
    from rich.console import Console  # noqa: PLC0415 - rich costs start-up time; only printing a table needs it

    return Console(stderr=stderr, soft_wrap=True)
