"""Attacker-supplied values, made safe to write down: in a log line, an error body, a CSV cell.

A node logs and echoes what strangers send it — a peer's key id, a user name typed at the sign-in page, a path.
Written as it came, a value with a newline forges a log line ("INFO: admin signed in"), ANSI escapes repaint the
operator's terminal, a 100,000-character value makes a 100 KB line, and a user name starting with ``=`` becomes a
formula when an auditor opens the CSV export in a spreadsheet. Escaping at each call site leaves the next call site
open; so this module closes the class at the boundaries:

- ``safe(value, limit)`` escapes control and format characters (``\\n``, ``\\r``, ``\\x1b``, bidirectional
  overrides, line separators) and the backslash itself, and truncates — any caller may use it;
- ``SafeLogFilter``, on every handler ``hanoinet serve`` and the CLI install (``install``, ``log_config``) for the
  hanoinet loggers, uvicorn's and the root logger, bounds each argument of a record and escapes the whole message,
  so that no record is ever more than one line (a traceback follows it on continuation lines marked ``  | ``);
- ``TextFormatter`` / ``JsonFormatter``: a line of text, or one JSON object per line (``HANOINET_LOG_FORMAT=json``);
- ``csv_cell``: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'``;
- ``bounded``: every string of an error body truncated (the API's error handler applies it to every answer).

Imports only the standard library: the command line installs it at start.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hanoinet.platform.settings import Settings

DEFAULT_LIMIT = 200
"""The longest value ``safe`` returns (before its truncation marker), unless told otherwise."""

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(char: str) -> str:
    """One character as it may appear in a line: itself, or a backslash escape."""
    named = _NAMED.get(char)
    if named is not None:
        return named
    if char.isprintable() or char == " ":
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:  # a value whose str() fails must not break the log line that mentions it
        return f"<{type(value).__name__}>"


def safe(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """``value`` as text on one line, at most ``limit`` characters plus a marker saying how many were cut.

    Control and format characters (newlines, ANSI escapes, bidirectional overrides, U+2028) and the backslash are
    written as backslash escapes, so that no input can start a line or recolour a terminal, and an escaped newline
    cannot be mistaken for a typed ``\\n``. Only the first ``limit`` characters are looked at: a huge value costs
    what a short one does."""
    text = _text(value)
    if len(text) <= limit and text.isprintable() and "\\" not in text:
        return text
    out: list[str] = []
    size = 0
    for index, char in enumerate(text):
        piece = _escape(char)
        if size + len(piece) > limit:
            return "".join(out) + f"…[{len(text) - index} more characters]"
        out.append(piece)
        size += len(piece)
    return "".join(out)


def clip(value: str, limit: int) -> str:
    """``value`` truncated to ``limit`` characters with a marker, not escaped (a JSON body escapes by itself)."""
    return value if len(value) <= limit else value[:limit] + f"…[{len(value) - limit} more characters]"


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP's list): such a cell is prefixed with a quote."""


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text: ``=HYPERLINK(…)`` becomes ``'=HYPERLINK(…)``."""
    text = _text(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of an attacker's input reaches a log line or an error body (``platform.settings``: the
    ``HANOINET_LOG_*`` and ``HANOINET_ERROR_TEXT_LIMIT`` settings)."""

    value: int = DEFAULT_LIMIT
    """The longest argument of a log record (a key id, a user name, a path)."""
    message: int = 2000
    """The longest log message, its arguments put in."""
    record: int = 16_000
    """The longest log record with its traceback."""
    error_text: int = 1000
    """The longest string of an error body (a message quoting input)."""


_LIMITS = [Limits()]


def limits() -> Limits:
    """The limits in force: the defaults, or what ``install`` was given."""
    return _LIMITS[0]


def bounded(detail: Any, limit: int | None = None) -> Any:
    """An error body's ``detail`` (a string, or lists and mappings of them) with every string truncated: a message
    that quotes the caller's input never echoes more than ``limit`` characters of it."""
    cap = limits().error_text if limit is None else limit
    if isinstance(detail, str):
        return clip(detail, cap)
    if isinstance(detail, Mapping):
        return {key: bounded(value, cap) for key, value in detail.items()}
    if isinstance(detail, list | tuple):
        return [bounded(value, cap) for value in detail]
    return detail


_DONE = "_hanoinet_safe"


class SafeLogFilter(logging.Filter):
    """Makes a record's message safe before any handler writes it: each argument truncated to ``value_limit``,
    the message (its arguments put in) escaped by ``safe`` to one line of at most ``message_limit``. Installed on
    handlers, so that it sees records propagated from every logger; a record is rewritten once."""

    def __init__(self, value_limit: int = DEFAULT_LIMIT, message_limit: int = 2000) -> None:
        super().__init__()
        self.value_limit = value_limit
        self.message_limit = message_limit

    def _arg(self, value: object) -> object:
        if isinstance(value, bool | int | float):
            return value  # %d and %.2f need numbers; numbers carry no line break
        return clip(_text(value), self.value_limit)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _DONE, False):
            return True
        args = record.args
        if isinstance(args, Mapping):
            record.args = {key: self._arg(value) for key, value in args.items()}
        elif args:
            record.args = tuple(self._arg(value) for value in args)
        try:
            message = record.getMessage()
        except Exception:  # a format that does not fit its arguments: keep both, safely
            message = f"{_text(record.msg)} {record.args!r}"
        record.msg, record.args = safe(message, self.message_limit), None
        setattr(record, _DONE, True)
        return True


class TextFormatter(logging.Formatter):
    """``LEVEL:     logger: message`` on one line; a traceback on continuation lines, each marked ``  | ``, so that
    nothing in an exception's message can pass for a record of its own; the whole at most ``record_limit``."""

    def __init__(self, record_limit: int = 16_000) -> None:
        super().__init__()
        self.record_limit = record_limit

    def _trace(self, record: logging.LogRecord) -> str:
        parts = []
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
        if record.stack_info:
            parts.append(record.stack_info)
        return clip("\n".join(parts).rstrip("\n"), self.record_limit) if parts else ""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if not getattr(record, _DONE, False):  # a handler without the filter: still one line
            message = safe(message, self.record_limit)
        line = f"{record.levelname + ':':<10}{record.name}: {message}"
        trace = self._trace(record)
        if trace:
            line += "".join(f"\n  | {safe(part, self.record_limit)}" for part in trace.split("\n"))
        return clip(line, self.record_limit)


class JsonFormatter(TextFormatter):
    """One JSON object per line — ``time``, ``level``, ``logger``, ``message`` and, with an exception, ``trace`` —
    for a log collector; the strings are JSON-escaped and bounded like the text lines."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if not getattr(record, _DONE, False):
            message = safe(message, self.record_limit)
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        trace = self._trace(record)
        if trace:
            entry["trace"] = trace
        return json.dumps(entry, ensure_ascii=True)


LOGGERS = ("hanoinet", "uvicorn", "uvicorn.access")
"""The loggers given the safe handler (``uvicorn.error`` propagates to ``uvicorn``); others reach the root's."""


def log_config(fmt: str = "text", limit: Limits | None = None, *, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary: one standard-error handler with ``SafeLogFilter`` and the text
    or JSON formatter, for the hanoinet loggers, uvicorn's and the root logger. ``hanoinet serve`` hands it to
    uvicorn (which applies it in place of its own)."""
    lim = limit or limits()
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    handler = ["hanoinet_safe"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "hanoinet_safe": {
                "()": SafeLogFilter,
                "value_limit": lim.value,
                "message_limit": lim.message,
            }
        },
        "formatters": {"hanoinet_safe": {"()": formatter, "record_limit": lim.record}},
        "handlers": {
            "hanoinet_safe": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["hanoinet_safe"],
                "formatter": "hanoinet_safe",
            }
        },
        "loggers": {
            **{name: {"handlers": handler, "level": level, "propagate": False} for name in LOGGERS},
            "uvicorn.error": {"level": level},
        },
        "root": {"handlers": handler, "level": "WARNING"},
    }


_FORMAT = ["text"]


def installed(*, level: str = "INFO") -> dict[str, Any]:
    """The dictionary of what was last installed (format and limits) at ``level``: what a child process (the
    federation worker) applies with ``apply`` so that its lines are as safe as its parent's."""
    return log_config(_FORMAT[0], limits(), level=level)


def apply(config: Mapping[str, Any]) -> None:
    """Configure logging from a ``log_config`` dictionary made elsewhere (by ``installed`` in a parent process),
    its limits in force here too."""
    safe_filter = config["filters"]["hanoinet_safe"]
    record = config["formatters"]["hanoinet_safe"]["record_limit"]
    _LIMITS[0] = Limits(safe_filter["value_limit"], safe_filter["message_limit"], record, limits().error_text)
    _FORMAT[0] = "json" if config["formatters"]["hanoinet_safe"]["()"] is JsonFormatter else "text"
    logging.config.dictConfig(dict(config))
    logging.captureWarnings(True)


def install(fmt: str = "text", limit: Limits | None = None, *, level: str = "INFO") -> dict[str, Any]:
    """Configure logging as ``log_config`` says and make ``limit`` the limits in force; return the dictionary."""
    if limit is not None:
        _LIMITS[0] = limit
    _FORMAT[0] = fmt
    config = log_config(fmt, limit, level=level)
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
    return config


def install_from_settings(settings: Settings) -> dict[str, Any]:
    """``install`` with the node's settings (``HANOINET_LOG_FORMAT``, ``HANOINET_LOG_*_LIMIT``,
    ``HANOINET_ERROR_TEXT_LIMIT``): what ``hanoinet serve`` does before it starts uvicorn with the dictionary."""
    limit = Limits(
        value=settings.log_value_limit,
        message=settings.log_message_limit,
        record=settings.log_record_limit,
        error_text=settings.error_text_limit,
    )
    return install(settings.log_format, limit)


def install_from_environment() -> None:
    """What the command line does at start, before any settings object is read (that is slow, and may fail): the
    format from ``HANOINET_LOG_FORMAT``, the default limits. ``serve`` installs again from its settings."""
    fmt = os.environ.get("HANOINET_LOG_FORMAT", "text").strip().lower()
    install("json" if fmt == "json" else "text", level="WARNING")
