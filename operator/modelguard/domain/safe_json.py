"""JSON a tenant wrote (signature bundles, signed statements, annotations), parsed without surprises: nesting
deep enough to exhaust Python's recursion limit is a ValueError like any other malformed document, so every
caller's `except ValueError` turns it into a clear condition instead of an unhandled error (a crash-looping
init container, a reconcile that fails without saying why)."""

from __future__ import annotations

import json
from typing import Any


def loads(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
