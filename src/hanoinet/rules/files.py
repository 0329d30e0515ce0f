"""Where the shipped rule packs lie: only the standard library, so that the quick path of the CLI can find them
without loading the validating loader (``rules.loader``, which re-exports this)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def builtin_pack_paths() -> list[Path]:
    """Return the pack files shipped in ``hanoinet/packs``, sorted by name, so loading order is reproducible."""
    folder = resources.files("hanoinet.rules") / "packs"
    if not isinstance(folder, Path):
        raise TypeError("hanoinet must be installed as files on disk for its rule packs to be read")
    return sorted(p for p in folder.iterdir() if p.suffix == ".yaml" and p.is_file())
