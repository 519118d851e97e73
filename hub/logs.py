"""Logs as JSON lines, each with the id of the request it was written for.

``ihub serve`` installs ``JsonFormatter`` on the root logger (uvicorn's loggers included), so
a log collector gets one object per line: ``ts``, ``level``, ``logger``, ``message``,
``request_id`` (also sent to the departments as ``X-Request-Id``), ``trace_id`` and ``span_id``
when written inside a traced request (``hub.tracing``) and, for errors, ``exc``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from opentelemetry import trace

from connectors.tracing import REQUEST_ID


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the request id comes from the serving context."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class DropQueryStrings(logging.Filter):
    """Access-log lines keep the path but never the query string: a GET's ``variables`` may
    carry personal data, and an APQ hash is of no use to whoever reads the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) >= 3:
            record.args = (*args[:2], str(args[2]).split("?", 1)[0], *args[3:])
        return True


def configure_json_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Route every logger through one handler writing JSON lines to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(DropQueryStrings())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
