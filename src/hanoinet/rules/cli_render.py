"""How ``packs list`` prints its table, shared by ``rules.cli`` and the CLI's quick path (``app.quick_read``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table


def packs_table(data: list[dict[str, Any]]) -> Table:
    """One row per pack: key, short title, version and its request types."""
    from rich.table import Table  # noqa: PLC0415 - rich only when a table is printed

    t = Table("key", "title", "version", "request types")
    for p in data:
        t.add_row(p["key"], p["short_title"], p["version"], ", ".join(p["request_types"]))
    return t
