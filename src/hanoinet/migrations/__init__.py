"""Alembic's revisions and environment.

The table models live in each capability's ``orm`` module, declared on the kernel's one ``Base``; a table exists in
``Base.metadata`` only once its module is imported. ``model_metadata`` imports them all, so that Alembic's
autogenerate and the schema tests compare the database with every model — not with whichever modules some other
import happened to load (an autogenerate run that saw none would write a migration dropping every table).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

from sqlalchemy import MetaData

import hanoinet
from hanoinet.platform.orm import Base


def model_metadata() -> MetaData:
    """``Base.metadata`` with the tables of every package of hanoinet that has an ``orm`` module (a capability
    added later is found without being listed here)."""
    for package in pkgutil.iter_modules(hanoinet.__path__):
        name = f"hanoinet.{package.name}.orm"
        if package.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return Base.metadata
