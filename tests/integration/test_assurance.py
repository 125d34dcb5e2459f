"""Assurance evidence a TrustPolicy requires, against a real API server and the operator (issue 19, item 1):
nothing rolls out until the model declares a threat model and an evaluation of the digest that was verified,
and the AIDeployment names who answers incidents; a tenant cannot reuse an evaluation of another digest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.harness.client import KubeTestClient, condition, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

KEY = KeyPair.generate()
DOC = {
    "uri": "https://docs.example/threat-model.pdf",
    "digest": "sha256:" + "c" * 64,
    "reviewedAt": "2026-11-30",
    "reviewer": "security-architecture",
}


def evaluation(digest: str) -> dict[str, Any]:
    return {
        "kind": "RedTeam",
        "modelDigest": digest,
        "uri": "https://docs.example/red-team.pdf",
        "digest": "sha256:" + "d" * 64,
        "completedAt": "2026-12-01",
        "assessor": "red-team",
        "result": "PassedWithFindings",
        "covers": ["PromptInjection"],
    }


def test_required_evidence_holds_the_rollout_until_declared_for_the_verified_digest(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    name = f"p-{namespace}"
    body = policy(name, namespace, KEY, [f"file://{models_root}/"])
    body["spec"]["requirements"] = {"assurance": ["threatModel", "redTeam"], "incidentResponse": True}
    api.create("trustpolicies", None, body)
    try:
        pub = publish(models_root, namespace, "m", KEY)
        api.create("aimodels", namespace, model("m", pub.source, pub.bundle, name))
        api.create("aideployments", namespace, ai_deployment("svc", "m"))
        verified = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True", "SignatureValid")
        digest = verified["status"]["verified"]["digest"]

        def documented(status: str) -> dict[str, Any] | None:
            found = condition(api.get("aimodels", namespace, "m"), "Documented")
            return found if found and found["status"] == status else None

        missing = eventually(lambda: documented("False"), what="Documented=False for the missing evidence")
        assert missing["reason"] == "MissingDocumentation"
        assert "assurance.threatModel" in missing["message"] and f"RedTeam result for {digest}" in missing["message"]
        wait_for_condition(api, "aideployments", namespace, "svc", "Ready", "False", "MissingDocumentation")
        assert api.apps.list_namespaced_deployment(namespace).items == []

        # the tenant declares a red-team result of another digest: it does not count for this one
        stale = {"threatModel": DOC, "evaluations": [evaluation("sha256:" + "e" * 64)]}
        api.patch("aimodels", namespace, "m", {"spec": {"assurance": stale}})
        eventually(
            lambda: (c := documented("False")) and "threatModel" not in c["message"] and digest in c["message"],
            what="only the evaluation still missing",
        )
        assert api.apps.list_namespaced_deployment(namespace).items == []

        api.patch("aimodels", namespace, "m", {"spec": {"assurance": {**stale, "evaluations": [evaluation(digest)]}}})
        eventually(lambda: documented("True"), what="Documented=True once the evidence is declared")
        held = wait_for_condition(api, "aideployments", namespace, "svc", "Ready", "False", "IncidentResponseMissing")
        assert "spec.incidentResponse" in condition(held, "Ready")["message"]
        assert api.apps.list_namespaced_deployment(namespace).items == []

        incident = {"contact": "oncall@example.com", "runbook": {**DOC, "uri": "https://docs.example/runbook.pdf"}}
        api.patch("aideployments", namespace, "svc", {"spec": {"incidentResponse": incident}})
        eventually(
            lambda: api.get("aideployments", namespace, "svc").get("status", {}).get("servedDigest") == digest,
            what="the rollout once every requirement is met",
        )
    finally:
        api.delete("trustpolicies", None, name)


def test_the_api_server_refuses_a_document_link_with_credentials(
    cluster: ControlPlane, api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """A link in spec.assurance is shown to auditors in the report: the API server itself refuses one that
    carries a user name or password, so it never reaches the report (or any copy of the object)."""
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    try:
        pub = publish(models_root, namespace, "m", KEY)
        leaky = {"threatModel": {**DOC, "uri": "https://reader:s3cret@docs.example/threat-model.pdf"}}
        body = model("m", pub.source, pub.bundle, name)
        body["spec"]["assurance"] = leaky
        refused = cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(body), check=False)
        assert refused.returncode != 0 and "no credentials in the link" in refused.stderr
        assert cluster.kubectl("get", "aimodels", "-n", namespace, "-o", "name").stdout.strip() == ""
    finally:
        api.delete("trustpolicies", None, name)
