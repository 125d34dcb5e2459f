"""Audit records as OCSF events (pure), and the HTTP sink sending them to a loopback collector."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from modelguard.adapters.audit_log import HttpSink
from modelguard.adapters.http import HttpClient
from modelguard.domain.audit import Actor, Entry, ObjectRef, record_hash, seal
from modelguard.domain.ocsf import to_ocsf

NOW = datetime(2026, 12, 7, 12, 30, 5, tzinfo=UTC)
MODEL = ObjectRef("AIModel", "team-a", "m")
SVC = ObjectRef("AIDeployment", "team-a", "svc")
ALICE = Actor("alice", ("team-a-devs", "system:authenticated"))
DIGEST = "sha256:" + "d" * 64

ENTRIES = [
    Entry("Change", "CREATE", MODEL, ALICE, None, "sha256:" + "1" * 64),
    Entry("Change", "UPDATE", SVC, ALICE, "sha256:" + "2" * 64, "sha256:" + "3" * 64, {"systemPrompt": "sha256:9"}),
    Entry("Change", "DELETE", SVC, ALICE, "sha256:" + "3" * 64, None),
    Entry("Decision", "Verified", MODEL, new_hash=DIGEST, details={"signer": "k", "source": "s"}),
    Entry("Decision", "Rejected", MODEL, details={"reason": "DigestMismatch"}),
    Entry("Decision", "Quarantined", SVC, old_hash=DIGEST, details={"reason": "ScanFailed"}),
    Entry("Decision", "Released", SVC, new_hash=DIGEST, details={"reason": "ScanPassed"}),
    Entry("Decision", "DriftReverted", SVC, details={"objects": "Deployment/svc: spec.template.spec.hostNetwork"}),
]
RECORDS = seal(ENTRIES, 40, "sha256:" + "0" * 64, NOW)
# what every OCSF event must carry (the base event) and what its class adds
BASE = {"class_uid", "category_uid", "activity_id", "type_uid", "severity_id", "time", "metadata"}
REQUIRED = {6003: BASE | {"actor", "api", "src_endpoint"}, 2004: BASE | {"finding_info"}}


def by_action() -> dict[str, dict[str, Any]]:
    return {r["action"]: to_ocsf(r) for r in RECORDS}


def test_every_record_is_a_well_formed_event_that_keeps_the_record_verifiable() -> None:
    for record in RECORDS:
        event = to_ocsf(record)
        assert REQUIRED[event["class_uid"]] <= set(event), record["action"]
        assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
        assert event["category_uid"] == event["class_uid"] // 1000
        assert event["time"] == int(NOW.timestamp() * 1000)
        meta = event["metadata"]
        assert meta["version"] == "1.3.0" and meta["product"]["name"] == "ModelGuard"
        assert meta["uid"] == record["hash"] and meta["sequence"] == record["seq"]
        kept = event["unmapped"]["modelguard_record"]
        assert kept == record and record_hash(kept) == record["hash"]  # the chain verifies from the SIEM's copy
        json.dumps(event)  # serialisable as it is


def test_changes_are_api_activity_by_the_requester() -> None:
    events = by_action()
    created, updated, deleted = events["CREATE"], events["UPDATE"], events["DELETE"]
    assert (created["class_uid"], created["activity_id"], created["activity_name"]) == (6003, 1, "Create")
    assert (updated["activity_id"], deleted["activity_id"]) == (3, 4)
    assert created["actor"]["user"] == {
        "name": "alice",
        "type_id": 1,
        "type": "User",
        "groups": [{"name": "team-a-devs"}, {"name": "system:authenticated"}],
    }
    assert created["resources"] == [
        {"type": "AIModel", "name": "m", "namespace": "team-a", "data": {"newHash": "sha256:" + "1" * 64}}
    ]
    assert created["message"] == "alice created AIModel team-a/m" and deleted["message"].startswith("alice deleted")
    assert created["status_id"] == 1 and created["severity_id"] == 1 and created["api"]["operation"] == "CREATE"


def test_security_decisions_are_findings_and_a_release_closes_its_quarantine() -> None:
    events = by_action()
    rejected, quarantined, released = events["Rejected"], events["Quarantined"], events["Released"]
    assert rejected["class_uid"] == quarantined["class_uid"] == released["class_uid"] == 2004
    assert rejected["severity_id"] == quarantined["severity_id"] == 4  # High
    assert rejected["finding_info"]["desc"] == "DigestMismatch" and rejected["finding_info"]["uid"].endswith(
        f":{rejected['metadata']['sequence']}"
    )
    assert quarantined["finding_info"]["uid"] == released["finding_info"]["uid"]
    assert (quarantined["activity_name"], quarantined["status"]) == ("Create", "New")
    assert (released["activity_name"], released["status"], released["severity_id"]) == ("Close", "Resolved", 1)
    assert quarantined["actor"]["user"]["type"] == "System"


def test_reverted_drift_is_a_resolved_finding_naming_what_changed() -> None:
    drift = by_action()["DriftReverted"]
    assert (drift["class_uid"], drift["severity_id"], drift["status"]) == (2004, 3, "Resolved")
    assert drift["finding_info"]["desc"] == "Deployment/svc: spec.template.spec.hostNetwork"
    assert drift["finding_info"]["types"] == ["AI deployment drift"]


def test_other_operator_decisions_are_api_activity_of_the_operator() -> None:
    verified = by_action()["Verified"]
    assert (verified["class_uid"], verified["activity_id"], verified["api"]["operation"]) == (6003, 99, "Verified")
    assert verified["actor"]["user"]["name"] == "system:modelguard-operator"
    assert verified["resources"][0]["data"] == {"newHash": DIGEST}


class Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                collector.bodies.append((str(self.headers.get("Content-Type")), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("event_format", ["modelguard", "ocsf"])
def test_the_sink_sends_one_json_line_per_record_in_the_chosen_format(collector: Collector, event_format: Any) -> None:
    url = f"http://127.0.0.1:{collector.server_address[1]}/ingest"
    HttpSink(url, HttpClient(ssl.create_default_context()), None, event_format).send(RECORDS)
    ((content_type, body),) = collector.bodies
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert content_type == "application/x-ndjson" and len(lines) == len(RECORDS)
    if event_format == "ocsf":
        assert lines == [to_ocsf(r) for r in RECORDS] and {e["class_uid"] for e in lines} == {6003, 2004}
    else:
        assert lines == RECORDS


def test_a_refused_request_is_a_failed_api_activity_outside_the_chain() -> None:
    from modelguard.domain.ocsf import denial_event

    review = {
        "request": {
            "uid": "rev-1",
            "operation": "CREATE",
            "kind": {"group": "modelguard.io", "kind": "AIModel"},
            "namespace": "team-a",
            "name": "evil",
            "userInfo": {"username": "mallory", "groups": ["team-a-devs"]},
        }
    }
    event = denial_event(review, "source https://evil.example/ is not allowed", "validate-aimodels", NOW)
    assert (event["class_uid"], event["type_uid"], event["status"]) == (6003, 600301, "Failure")
    assert event["actor"]["user"]["name"] == "mallory" and event["status_detail"].startswith("source https://evil")
    assert event["resources"] == [{"type": "AIModel", "name": "evil", "namespace": "team-a"}]
    assert event["metadata"]["uid"] == "rev-1" and "sequence" not in event["metadata"]  # not in the chain
    assert event["unmapped"] == {"modelguard_webhook": "validate-aimodels"}


def test_security_events_go_only_to_an_ocsf_sink_and_a_flood_is_bounded() -> None:
    from modelguard.adapters.audit_log import EVENTS_KEPT, AuditLog

    client = HttpClient(ssl.create_default_context())
    plain = AuditLog(None, "ns", None, sink=HttpSink("http://127.0.0.1:1/x", client))  # type: ignore[arg-type]
    plain.security_event({"n": 1})
    assert len(plain._events) == 0  # a ModelGuard-format sink carries the chain only
    ocsf = AuditLog(None, "ns", None, sink=HttpSink("http://127.0.0.1:1/x", client, None, "ocsf"))  # type: ignore[arg-type]
    for n in range(EVENTS_KEPT + 25):
        ocsf.security_event({"n": n})
    assert len(ocsf._events) == EVENTS_KEPT and ocsf.events_dropped == 25
    assert ocsf._events[0] == {"n": 25}  # the oldest went first


def test_a_refusal_of_a_uri_with_credentials_does_not_quote_them() -> None:
    """The refusal message goes to the SIEM: a tenant's source URI with a password in it is refused without the
    later checks quoting the URI back (they would put the password into the event)."""
    from modelguard.domain.admission import review_model
    from tests.harness.samples import ai_model, trust_policy

    spec = ai_model("m", "p", source={"uri": "https://reader:s3cret@models.example/m"})["spec"]
    review = review_model(spec, "team-a", {}, trust_policy("p", allowedSources=["file:///"]))
    assert review.denials == ["URIs must not carry credentials; use credentialsSecretRef"]
    assert "s3cret" not in " ".join(review.denials + review.warnings)
