"""A model signed keyless with Sigstore, served by real pods (issue 16): the operator image's sigstore-python
verifies the public-good bundle offline, on a read-only root file system, in the model cache and again in
the model server, against exactly the identity the TrustPolicy's pattern matched."""

from __future__ import annotations

import json

import pytest

from e2e.conftest import (
    ENABLED,
    KEYLESS_ISSUER,
    KEYLESS_SIGNER,
    Source,
    ai_deployment,
    ai_model,
    apply,
    eventually,
    get,
    kubectl,
    new_namespace,
    trust_policy,
    wait_condition,
)

pytestmark = pytest.mark.timeout(600)


def _pod(namespace: str, component: str) -> dict[str, object]:
    out = kubectl("get", "pods", "-n", namespace, "-l", f"app.kubernetes.io/component={component}", "-o", "json")
    (pod,) = [p for p in json.loads(out.stdout)["items"] if not p["metadata"].get("deletionTimestamp")]
    return pod  # type: ignore[no-any-return]


def test_a_keyless_model_is_verified_by_identity_in_the_cache_and_in_the_model_server(source: Source) -> None:
    ns = new_namespace("e2e-keyless", {ENABLED: "true"})
    policy = trust_policy(ns, ns, source)
    policy["spec"].pop("keys")
    policy["spec"]["sigstoreIdentities"] = [
        {"id": "ibm", "identityPattern": r"[a-z]+@us\.ibm\.com", "issuer": KEYLESS_ISSUER}
    ]
    try:
        apply(policy)
        apply(ai_model("k1", source, "k1", ns), ns)
        wait_condition("aimodel", "k1", ns, "Verified", "True")
        model = get("aimodel", "k1", ns)
        assert model is not None
        verified = model["status"]["verified"]
        assert verified["signer"] == f"ibm:{KEYLESS_SIGNER}" and verified["verifiedBy"]["method"] == "sigstore"
        apply(ai_deployment("svc", "k1", source), ns)
        wait_condition("aideployment", "svc", ns, "Ready", "True", timeout=300)
        expected = f"verified {verified['digest']} signer=sigstore:{KEYLESS_SIGNER} issuer={KEYLESS_ISSUER}"
        for component, container in (("model-cache", "fetch-model"), ("model-server", "verify-model")):
            pod = eventually(lambda c=component: _pod(ns, c), 60, what=f"the {component} pod")
            log = kubectl("logs", "-n", ns, pod["metadata"]["name"], "-c", container).stdout  # type: ignore[index]
            assert expected in log, log
    finally:
        kubectl("delete", "trustpolicy", ns, check=False)
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
