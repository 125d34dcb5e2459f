"""The requester of a decommission is one type from admission to the certificate (issue 15 item 4)."""

from __future__ import annotations

import pytest

from modelguard.admission.requesters import requester_of
from modelguard.api.certificate import Requester
from modelguard.domain.decommission import UNKNOWN, parse_requester


def test_what_admission_records_is_what_the_decommission_reads() -> None:
    alice = requester_of({"username": "alice", "groups": ["team-a", "system:authenticated"], "uid": "x"})
    assert alice == Requester(username="alice", groups=["team-a", "system:authenticated"])
    assert parse_requester(alice.model_dump_json()) == alice
    # what older operators recorded (compact JSON, same fields) reads the same
    assert parse_requester('{"username":"bob","groups":[]}') == Requester(username="bob")


@pytest.mark.parametrize("raw", [None, "", "not json", '{"groups": ["x"]}', '{"username": ""}', '["alice"]'])
def test_a_missing_or_edited_record_is_unknown_who_may_delete_nothing(raw: str | None) -> None:
    assert parse_requester(raw) == UNKNOWN
