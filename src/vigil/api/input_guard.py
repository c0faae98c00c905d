"""One guard against control characters in every text the API accepts.

PostgreSQL cannot store a NUL byte in ``text`` (the driver raises, the request became a 500
with a traceback, before login too), a lone UTF-16 surrogate cannot be encoded as UTF-8, and
other control characters in a name or a reason are at best invisible and at worst rewrite a
terminal or a log line. So every route refuses them with 422 in the error envelope before any
handler or query runs, on SQLite as on PostgreSQL, for:

* path and query parameters, and header values: no control character at all;
* JSON and form bodies (every string, keys included, at any depth): none except tab, line
  feed and carriage return, which multi-line text such as a reason legitimately holds.

The guard is a router dependency (see :func:`vigil.api.routes.common.router`), so a new route
gets it without asking; a test sends NUL to every operation of the OpenAPI spec. It re-parses
a JSON body that FastAPI has already parsed: bodies are at most ``api.max_body_bytes`` (1 MiB
by default), and checking the raw request keeps the guard independent of each route's models.
Uploaded files are binary and are not inspected; a form's text fields are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile
from starlette.requests import HTTPConnection, Request

# C0 controls, DEL, C1 controls and UTF-16 surrogates (which no UTF-8 column can hold).
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The same, but tab, line feed and carriage return pass (multi-line body text).
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _strings(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string inside a parsed JSON value, with where it sits (keys are strings too)."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*loc, str(key)), str(key)
            yield from _strings(item, (*loc, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*loc, i))


def _refuse(loc: tuple[str | int, ...]) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "control_character",
                "loc": loc,
                "msg": "must not contain NUL or other control characters",
            }
        ]
    )


async def reject_control_characters(conn: HTTPConnection) -> None:
    """Refuse a request (422) with a control character in any text it carries."""
    for name, value in conn.path_params.items():
        if isinstance(value, str) and _ANY_CONTROL.search(value):
            raise _refuse(("path", name))
    for name, value in conn.query_params.multi_items():
        if _ANY_CONTROL.search(name) or _ANY_CONTROL.search(value):
            raise _refuse(("query", name))
    for name, value in conn.headers.items():
        if _ANY_CONTROL.search(value.replace("\t", " ")):
            raise _refuse(("header", name))
    if isinstance(conn, Request) and conn.method not in ("GET", "HEAD", "OPTIONS"):
        for loc, text in await _body_strings(conn):
            if _BODY_CONTROL.search(text):
                raise _refuse(loc)


async def _body_strings(request: Request) -> list[tuple[tuple[str | int, ...], str]]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        raw = await request.body()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:  # FastAPI answers malformed JSON itself
            return []
        return list(_strings(parsed, ("body",)))
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form()  # parsed once: Starlette keeps it for the route
        out: list[tuple[tuple[str | int, ...], str]] = []
        for name, value in form.multi_items():
            out.append((("body", name), name))
            if isinstance(value, UploadFile):
                out.append((("body", name), value.filename or ""))
            else:
                out.append((("body", name), value))
        return out
    return []
