"""`modelguard run --log-format json`: one JSON object per log line, for log pipelines (issue 14, item 7)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from modelguard.cli.run import setup_logging


@pytest.fixture
def root_logging() -> object:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield root
    root.handlers[:], level = saved
    root.setLevel(level)


def test_json_logs_are_one_object_per_line(root_logging: logging.Logger) -> None:
    setup_logging("json", verbose=False)
    stream = io.StringIO()
    (kopf_handler,) = [h for h in root_logging.handlers if type(h).__name__ == "_KopfStreamHandler"]
    kopf_handler.setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("modelguard.reconcilers.aimodel").info("AIModel/risk/fraud: Verified=True SignatureValid")
    logging.getLogger("modelguard.reconcilers.aimodel").debug("not shown without --verbose")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "AIModel/risk/fraud: Verified=True SignatureValid"
    assert record["severity"] == "info"
