"""Log lines of a run, through the standard ``logging`` module.

Loggers are named under ``edi837`` (``edi837.cli``, ``edi837.gate``, ...).
The command line installs one handler on standard error (:func:`setup`):
``--log-format text`` (the default) or ``json`` (one JSON object a line:
``time``, ``level``, ``logger``, ``message`` and the record's fields), and
``--log-level`` (default ``warning``; ``error`` with ``--quiet``).

What is logged: a run's start and end (command, file and claim counts, exit
code, seconds), each file done (its counts; the gate's control numbers),
files that could not be read, worker processes that stopped.

**No PHI in any log line**: a record carries file names, counts, rule ids,
control numbers and positions, never a name, member id, date of birth,
address or segment text.  A record's ``fields`` are given by the code that
logs, from that list only.

**One message, one line**: a file name (or anything from outside) holding a
newline or a control character cannot forge a line on standard error.  Text
lines escape them (:func:`edi837.findings.printable`: ``\n``, ``\x1b``); a
field's value is JSON-quoted when it holds one; JSON lines escape by
themselves.

As a library, edi837 logs nothing unless the application configures logging
(a NullHandler sits on the ``edi837`` logger).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import sys
from typing import Any

import click

from .findings import printable

ROOT = "edi837"
FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")

logging.getLogger(ROOT).addHandler(logging.NullHandler())


def get(name: str) -> logging.Logger:
    """The logger ``edi837.<name>``."""
    return logging.getLogger(f"{ROOT}.{name}")


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log ``message`` with ``fields`` (shown as key=value, or as JSON members)."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        d: dict[str, Any] = {
            "time": _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for k, v in (getattr(record, "fields", None) or {}).items():
            d.setdefault(k, v)
        return json.dumps(d, default=str)


class TextFormatter(logging.Formatter):
    """``2026-01-01T12:00:00 info edi837.cli: file done file=a.x12 claims=3``."""

    def format(self, record: logging.LogRecord) -> str:
        t = _dt.datetime.fromtimestamp(record.created).isoformat(timespec="seconds")
        fields = getattr(record, "fields", None) or {}
        extra = "".join(f" {k}={_text(v)}" for k, v in fields.items())
        return f"{t} {record.levelname.lower()} {record.name}: {printable(record.getMessage())}{extra}"


def _text(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str)
    return json.dumps(s) if not s or not s.isprintable() or any(c.isspace() or c in "\"=" for c in s) else s


class _Handler(logging.Handler):
    """Writes to standard error as it is when the record is emitted (so a test
    runner's replaced stream is honoured), clearing a progress bar first."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            echo_err(self.format(record))
        except Exception:  # noqa: BLE001 - logging never stops the run
            self.handleError(record)


_state: dict[str, Any] = {"json": False}


def setup(fmt: str = "text", level: str | None = None, quiet: bool = False) -> None:
    """Log to standard error in ``fmt`` at ``level`` (replaces an earlier setup)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format is one of {', '.join(FORMATS)}, not {fmt!r}")
    lv = level or ("error" if quiet else "warning")
    if lv not in LEVELS:
        raise ValueError(f"log level is one of {', '.join(LEVELS)}, not {lv!r}")
    root = logging.getLogger(ROOT)
    for h in list(root.handlers):
        if isinstance(h, _Handler):
            root.removeHandler(h)
    h = _Handler()
    h.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(h)
    root.setLevel(getattr(logging, lv.upper()))
    _state["json"] = fmt == "json"
    ctx = click.get_current_context(silent=True)
    if ctx is not None:  # a command: undone when it ends (several commands may run in one process)
        ctx.call_on_close(reset)


def reset() -> None:
    """Undo :func:`setup`: no handler of ours, the level inherited, text mode."""
    root = logging.getLogger(ROOT)
    for h in list(root.handlers):
        if isinstance(h, _Handler):
            root.removeHandler(h)
    root.setLevel(logging.NOTSET)
    _state["json"] = False


def json_mode() -> bool:
    return bool(_state["json"])


def say(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """A diagnostic of the command (an error, a file it cannot read): printed as
    it is on standard error, or, with ``--log-format json``, a log record, so
    that every line on standard error is JSON."""
    if json_mode():
        log(logger, level, message, **fields)
    else:
        echo_err(message)


def echo_err(message: str) -> None:
    """``click.echo(message, err=True)``, clearing a progress bar first; control characters in
    ``message`` are escaped (one message, one line)."""
    message = printable(message)
    tqdm = sys.modules.get("tqdm")
    if tqdm is not None and getattr(tqdm.tqdm, "_instances", None):
        with tqdm.tqdm.external_write_mode(file=sys.stderr):
            click.echo(message, err=True)
    else:
        click.echo(message, err=True)


def log_options(f: Any) -> Any:
    """The ``--log-format`` and ``--log-level`` options of a command."""
    f = click.option("--log-level", type=click.Choice(LEVELS), default=None,
                     help="Log lines from this level on, on standard error (default: warning; "
                          "error with --quiet).")(f)
    return click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True,
                        help="Log lines as text or as JSON objects (one a line); with json, the "
                             "command's own messages on standard error are JSON lines too.")(f)
