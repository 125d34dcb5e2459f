"""Whose object is it (domain/ownership.py)."""

from __future__ import annotations

from typing import Any

import pytest

from modelguard.domain.ownership import clash_message, controlled_by

MINE = {"apiVersion": "modelguard.io/v1alpha1", "kind": "AIDeployment", "name": "db", "uid": "u-1", "controller": True}


@pytest.mark.parametrize(
    ("refs", "owned"),
    [
        ([MINE], True),
        ([], False),
        (None, False),
        ([{**MINE, "uid": "u-2"}], False),  # another AIDeployment of the same name (re-created)
        ([{**MINE, "controller": False}], False),  # an owner, but not the controller
        ([{**MINE, "controller": None}], False),
        ([{**MINE, "uid": "u-2"}, {**MINE, "controller": False}], False),
        ([{"kind": "ReplicaSet", "uid": "u-9", "controller": True}, MINE], True),
    ],
)
def test_controlled_by_needs_a_controller_reference_with_the_owners_uid(refs: Any, owned: bool) -> None:
    assert controlled_by({"metadata": {"ownerReferences": refs}}, "u-1") is owned


def test_an_object_without_metadata_is_nobodys() -> None:
    assert controlled_by({}, "u-1") is False


def test_the_clash_message_names_every_object_and_what_to_do() -> None:
    text = clash_message(["Deployment/db", "Service/db"])
    assert "Deployment/db, Service/db" in text and "rename the AIDeployment" in text
