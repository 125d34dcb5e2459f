"""Workload builders: deterministic, pinned, restricted, owned."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.builders import model_cache, workload
from modelguard.builders.labels import object_name
from modelguard.builders.workload import WorkloadFacts, deployment, service, service_account, verify_config
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import unpack_signature
from tests.harness.samples import ai_deployment, ai_model

DIGEST = "sha256:" + "c" * 64
FACTS = WorkloadFacts(
    name="scorer",
    namespace="risk",
    uid="uid-1",
    spec=AIDeploymentSpec.model_validate(ai_deployment("s", "m")["spec"]),
    digest=DIGEST,
    source="oci://r/m@" + DIGEST,
    signature_format="model-signing",
    signer="k",
    operator_image="op@sha256:" + "d" * 64,
    credentials_secret="creds",
    credentials_type="kubernetes.io/basic-auth",
    verification="scorer-verify-0123456789",
    cache_url="http://10.96.0.20:8090",
)


def test_deployment_is_pinned_restricted_and_owned() -> None:
    d = deployment(FACTS)
    assert d == deployment(FACTS)  # pure and deterministic
    assert d["metadata"]["ownerReferences"][0] == {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "AIDeployment",
        "name": "scorer",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    pod = d["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    init = pod["initContainers"][0]
    assert init["args"][init["args"].index("--expect-digest") + 1] == DIGEST
    assert init["args"][init["args"].index("--via") + 1] == FACTS.cache_url  # fetched from the model cache
    assert init["args"][init["args"].index("--source") + 1] == FACTS.source  # which still names the files
    assert "credentials" not in [v["name"] for v in pod["volumes"]]  # the source's credentials: the cache's only
    containers = {c["name"]: c for c in pod["containers"]}
    server, gateway = containers["model-server"], containers["gateway"]
    assert {"name": "model", "mountPath": "/models", "readOnly": True} in server["volumeMounts"]
    assert gateway["ports"][0] == {"name": "gateway", "containerPort": 8000, "protocol": "TCP"}
    assert "gateway-keys" not in [m["name"] for m in gateway["volumeMounts"]]  # no authentication in FACTS
    for container in (init, server, gateway):
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"] == {"drop": ["ALL"]} and ctx["runAsNonRoot"] is True


def test_quarantine_override_scales_to_zero() -> None:
    from dataclasses import replace

    assert deployment(replace(FACTS, replicas=0))["spec"]["replicas"] == 0
    assert deployment(FACTS)["spec"]["replicas"] == 1


def test_other_objects() -> None:
    assert service_account(FACTS)["automountServiceAccountToken"] is False
    cm = verify_config(FACTS, b"bundle", b"PEM")
    assert cm["data"]["digest"] == DIGEST
    assert unpack_signature(base64.b64decode(cm["binaryData"]["signature"])) == b"bundle"


def test_a_signature_of_10000_files_ships_compressed_and_one_too_large_is_refused() -> None:
    import json
    import os

    resources = [
        {"name": f"layers/block_{i:05d}/weights.safetensors", "digest": os.urandom(32).hex()} for i in range(10_000)
    ]
    bundle = json.dumps({"resources": resources}).encode()  # about the size of a real bundle's statement
    assert len(bundle) > workload.CONFIGMAP_LIMIT
    cm = verify_config(FACTS, bundle, b"PEM")
    assert len(base64.b64decode(cm["binaryData"]["signature"])) < workload.CONFIGMAP_LIMIT
    assert unpack_signature(base64.b64decode(cm["binaryData"]["signature"])) == bundle
    with pytest.raises(VerificationError) as refused:
        verify_config(FACTS, os.urandom(workload.CONFIGMAP_LIMIT), b"PEM")  # random bytes do not compress
    assert refused.value.reason == "SignatureTooLarge"


def test_a_gzip_bomb_or_broken_gzip_is_a_malformed_signature() -> None:
    import gzip

    from modelguard.domain.statement import MAX_BUNDLE_BYTES

    for shipped in (gzip.compress(b"\0" * (MAX_BUNDLE_BYTES + 10)), b"\x1f\x8b not gzip"):
        with pytest.raises(VerificationError) as refused:
            unpack_signature(shipped)
        assert refused.value.reason == "MalformedSignature"
    assert unpack_signature(b'{"mediaType": "x"}') == b'{"mediaType": "x"}'  # as given
    assert service(FACTS)["spec"]["selector"] == deployment(FACTS)["spec"]["selector"]["matchLabels"]
    assert service(FACTS)["spec"]["ports"][0]["targetPort"] == "gateway"  # never the model server directly


def test_names_fit_63_characters_and_stay_unique() -> None:
    long = "x" * 80
    assert len(object_name(long, "verify")) <= 63
    assert object_name(long, "verify") != object_name(long + "y", "verify")
    assert object_name("short", "verify") == "short-verify"


def test_the_watch_cache_drops_bookkeeping_only() -> None:
    from modelguard.domain.drift import LAST_APPLIED, cache_view

    body = {
        "metadata": {
            "name": "x",
            "labels": {"a": "b"},
            "managedFields": [{"manager": "m"}],
            "annotations": {LAST_APPLIED: "{...}", "modelguard.io/model-digest": "sha256:1"},
        },
        "spec": {"replicas": 1},
    }
    view = cache_view(body)
    assert view == {
        "metadata": {"name": "x", "labels": {"a": "b"}, "annotations": {"modelguard.io/model-digest": "sha256:1"}},
        "spec": {"replicas": 1},
    }
    assert body["metadata"]["managedFields"]  # the event's body is left as it was


def test_the_model_cache_fetches_with_the_sources_credentials_and_the_operators_ca_bundle() -> None:
    """Found on a real node: the fetch ran without them and failed where the operator passed. Only the model
    cache fetches from the source, so only its pod gets them; the model servers fetch from the cache."""
    from dataclasses import replace

    plain = model_cache.deployment(replace(FACTS, credentials_secret=None))["spec"]["template"]["spec"]
    assert (
        "--credentials" not in plain["initContainers"][0]["args"]
        and "--ca-bundle" not in plain["initContainers"][0]["args"]
    )
    assert "ca.crt" not in verify_config(FACTS, b"sig", b"pem")["data"]

    facts = replace(FACTS, ca_bundle="-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    cache = model_cache.deployment(facts)["spec"]["template"]["spec"]
    init = cache["initContainers"][0]
    args = init["args"]
    assert args[args.index("--source") + 1] == FACTS.source and "--via" not in args
    assert args[args.index("--credentials") + 1] == "/etc/modelguard/credentials"  # where the Secret is mounted
    # its type, which a Secret volume does not show: the pod reads it by the operator's rule (domain/credentials)
    assert args[args.index("--credentials-type") + 1] == "kubernetes.io/basic-auth"
    assert {"name": "credentials", "mountPath": "/etc/modelguard/credentials", "readOnly": True} in init["volumeMounts"]
    assert args[args.index("--ca-bundle") + 1] == "/etc/modelguard/verify/ca.crt"
    assert args[-1] == model_cache.MODEL_DIR and args.index("--ca-bundle") < len(args) - 1
    assert verify_config(facts, b"sig", b"pem")["data"]["ca.crt"] == facts.ca_bundle
    served = cache["containers"][0]
    assert served["args"][:2] == ["serve-model", model_cache.MODEL_DIR]
    assert {"name": "model", "mountPath": model_cache.MODEL_DIR, "readOnly": True} in served["volumeMounts"]
    assert "credentials" not in [m["name"] for m in served["volumeMounts"]]  # secrets only in the init container
    server_args = deployment(facts)["spec"]["template"]["spec"]["initContainers"][0]["args"]
    assert "--credentials" not in server_args and "--ca-bundle" not in server_args
    assert "--credentials-type" not in server_args and "--credentials-type" not in plain["initContainers"][0]["args"]


def test_the_model_cache_is_restricted_owned_and_apart_from_the_model_servers() -> None:
    cache = model_cache.deployment(FACTS)
    pod = cache["spec"]["template"]["spec"]
    assert cache["metadata"]["ownerReferences"] == deployment(FACTS)["metadata"]["ownerReferences"]
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in (*pod["initContainers"], *pod["containers"]):
        assert container["image"] == FACTS.operator_image
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # the model servers' Service and policies never select the cache, nor the cache's the model servers
    cache_labels = cache["spec"]["template"]["metadata"]["labels"]
    server_labels = deployment(FACTS)["spec"]["template"]["metadata"]["labels"]
    for sel in (service(FACTS)["spec"]["selector"], deployment(FACTS)["spec"]["selector"]["matchLabels"]):
        assert not sel.items() <= cache_labels.items()
    for sel in (model_cache.service(FACTS)["spec"]["selector"], cache["spec"]["selector"]["matchLabels"]):
        assert sel.items() <= cache_labels.items() and not sel.items() <= server_labels.items()
    assert model_cache.deployment(replace(FACTS, replicas=0))["spec"]["replicas"] == 0
    assert model_cache.url("10.96.0.20") == "http://10.96.0.20:8090"
    assert model_cache.url("fd00::20") == "http://[fd00::20]:8090"


def test_the_verification_material_is_immutable_and_named_by_its_content() -> None:
    """Issue 13, class 8: what a pod verifies with cannot be edited between verification and pod start; new
    material is a new ConfigMap, which the Deployment names (a rollout)."""
    from dataclasses import replace

    first, again = verify_config(FACTS, b"bundle", b"PEM"), verify_config(FACTS, b"bundle", b"PEM")
    other_key = verify_config(FACTS, b"bundle", b"OTHER PEM")
    other_signature = verify_config(FACTS, b"other bundle", b"PEM")
    assert first["immutable"] is True
    assert first["metadata"]["name"] == again["metadata"]["name"]
    names = {c["metadata"]["name"] for c in (first, other_key, other_signature)}
    assert len(names) == 3 and all(n.startswith("scorer-verify-") for n in names)
    pod = deployment(replace(FACTS, verification=first["metadata"]["name"]))["spec"]["template"]["spec"]
    assert {"name": "verify", "configMap": {"name": first["metadata"]["name"]}} in pod["volumes"]


def test_a_deleted_managed_object_is_summarized_once_in_plain_words() -> None:
    from modelguard.domain.drift import DELETED, summarize

    assert summarize("Service", "svc", [DELETED]) == "Service/svc (deleted)"  # was "Service/svc ((deleted))"
    assert summarize("Deployment", "svc", ["spec.replicas"]) == "Deployment/svc (spec.replicas)"


def test_scheduling_reaches_the_pod_and_nothing_else_changes() -> None:
    """Issue 14, item 4: GPU pools. Only what is set appears (the API server drops empty values, and a desired
    empty value would look like drift forever); the pod's restricted settings stay as they were."""
    from dataclasses import replace

    base = deployment(FACTS)["spec"]["template"]["spec"]
    spec = ai_deployment("s", "m")["spec"]
    spec["scheduling"] = {
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "nodeAffinity": {"required": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g5"]}]},
        "runtimeClassName": "nvidia",
        "priorityClassName": "inference",
    }
    pod = deployment(replace(FACTS, spec=AIDeploymentSpec.model_validate(spec)))["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [  # and, always, never a control-plane node (issue 27 item 3)
        {
            "matchExpressions": [
                {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g5"]},
                {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"},
                {"key": "node-role.kubernetes.io/master", "operator": "DoesNotExist"},
            ]
        }
    ]
    assert (pod["runtimeClassName"], pod["priorityClassName"]) == ("nvidia", "inference")
    for field in ("securityContext", "containers", "initContainers", "automountServiceAccountToken", "volumes"):
        assert pod[field] == base[field]


@pytest.mark.parametrize(
    "scheduling",
    [
        {"priorityClassName": "system-cluster-critical"},
        {"tolerations": [{"operator": "Equal", "value": "x"}]},
        {"tolerations": [{"key": "k", "operator": "Exists", "value": "x"}]},
        {"tolerations": [{"key": "k", "tolerationSeconds": 5}]},
        {"nodeSelector": {"k": "v" * 64}},
        {"hostNetwork": True},
    ],
)
def test_scheduling_refuses_what_kubernetes_or_policy_would(scheduling: dict[str, object]) -> None:
    from pydantic import ValidationError

    spec = ai_deployment("s", "m")["spec"]
    spec["scheduling"] = scheduling
    with pytest.raises(ValidationError):
        AIDeploymentSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-30", "2026-11-30T00:00:00+00:00"),  # a plain date, as people write it
        ("2026-11-30T09:30:00Z", "2026-11-30T09:30:00+00:00"),
        ("2026-11-30T10:30:00+01:00", "2026-11-30T09:30:00+00:00"),
    ],
)
def test_last_reviewed_takes_a_date_or_a_date_time(given: str, expected: str) -> None:
    from modelguard.api.aimodel import AIModelSpec

    spec = ai_model("m")["spec"]
    spec["card"]["lastReviewed"] = given
    reviewed = AIModelSpec.model_validate(spec).card.reviewed()
    assert reviewed is not None and reviewed.isoformat() == expected


@pytest.mark.parametrize("given", ["2026-02-30", "30.11.2026", "yesterday"])
def test_last_reviewed_refuses_what_is_not_a_date(given: str) -> None:
    from pydantic import ValidationError

    from modelguard.api.aimodel import AIModelSpec

    spec = ai_model("m")["spec"]
    spec["card"]["lastReviewed"] = given
    with pytest.raises(ValidationError):
        AIModelSpec.model_validate(spec)


def test_only_the_model_cache_may_reach_the_source_and_only_the_model_servers_reach_the_cache() -> None:
    from modelguard.builders import network

    spec = AIDeploymentSpec.model_validate(
        {
            **ai_deployment("s", "m")["spec"],
            "access": {"egress": [{"cidr": "10.20.0.0/16", "ports": [443]}], "allowDns": True},
        }
    )
    owner = workload.owner(FACTS)
    server_policy = network.allow("scorer", "risk", spec, owner, None)["spec"]
    (to_cache,) = server_policy["egress"]  # nothing declared reaches the model server: no source, no DNS
    assert to_cache == {
        "to": [
            {
                "podSelector": {
                    "matchLabels": {
                        "modelguard.io/aideployment": "scorer",
                        "app.kubernetes.io/component": "model-cache",
                    }
                }
            }
        ],
        "ports": [{"protocol": "TCP", "port": 8090}],
    }
    cache_policy = network.cache("scorer", "risk", spec, owner)["spec"]
    assert cache_policy["podSelector"]["matchLabels"] == to_cache["to"][0]["podSelector"]["matchLabels"]
    source, dns = cache_policy["egress"]
    assert source == {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 443}]}
    assert dns["ports"][0] == {"protocol": "UDP", "port": 53}
    (from_servers,) = cache_policy["ingress"]
    assert from_servers["from"] == [{"podSelector": {"matchLabels": server_policy["podSelector"]["matchLabels"]}}]
    for quarantined in (network.quarantine("scorer", "risk", owner), network.cache_quarantine("scorer", "risk", owner)):
        assert quarantined["spec"]["ingress"] == [] and quarantined["spec"]["egress"] == []
        assert quarantined["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_pods_verify_keyless_against_the_identity_the_operator_matched_never_a_pattern() -> None:
    """Issue 16: the init containers verify the way the operator did; for Sigstore that is the certificate
    identity the policy's identity (or pattern) matched, with its OIDC issuer, and a private Sigstore's trust
    configuration mounted from the verification ConfigMap when the policy names one."""
    identity = "https://github.com/acme/models/.github/workflows/release.yml@refs/tags/v1"
    issuer = "https://token.actions.githubusercontent.com"
    facts = replace(FACTS, signer="release", method="sigstore", sigstore_identity=(identity, issuer))
    args = workload.verify_args(facts, "/model", None)
    assert args[1:5] == ["--identity", identity, "--identity-provider", issuer]
    assert "--key" not in args and "--certificate-chain" not in args and "--trust-config" not in args
    public_good = verify_config(facts, b"bundle", None)
    assert "signer.pem" not in public_good["data"] and "trust-config.json" not in public_good["data"]
    private = replace(facts, sigstore_trust_config=True)
    assert workload.verify_args(private, "/model", None)[5:7] == [
        "--trust-config",
        f"{workload.VERIFY_DIR}/trust-config.json",
    ]
    assert (
        verify_config(private, b"bundle", b'{"trustedRoot": {}}')["data"]["trust-config.json"] == '{"trustedRoot": {}}'
    )
    ca = replace(FACTS, signer="corp-ca", method="certificate")
    assert workload.verify_args(ca, "/model", None)[1:3] == [
        "--certificate-chain",
        f"corp-ca={workload.VERIFY_DIR}/signer.pem",
    ]


def test_the_mutating_webhooks_match_condition_names_the_stamp_the_domain_writes() -> None:
    from modelguard.builders.webhooks import AUTHORITY, MODEL_STAMP_NEEDED, SET_BY, mutating_webhook_configuration
    from modelguard.domain.authority import AUTHORITY as DOMAIN_AUTHORITY
    from modelguard.domain.authority import REAUTHORISE, REFERENCES
    from modelguard.domain.decommission import SET_BY as DOMAIN_SET_BY

    assert SET_BY == DOMAIN_SET_BY and f"'{DOMAIN_SET_BY}'" in MODEL_STAMP_NEEDED
    assert AUTHORITY == DOMAIN_AUTHORITY and f"'{DOMAIN_AUTHORITY}'" in MODEL_STAMP_NEEDED
    assert f"'{REAUTHORISE}'" in MODEL_STAMP_NEEDED
    for reference in REFERENCES:  # a create that makes a reference is always stamped
        if reference.kind == "AIModel":
            assert f"has(object.spec.{reference.present})" in MODEL_STAMP_NEEDED
    hooks = {h["name"]: h for h in mutating_webhook_configuration("x", b"ca", url="https://x")["webhooks"]}
    assert hooks["aimodels-requester.modelguard.io"]["matchConditions"] == [
        {"name": "stamps-needed", "expression": MODEL_STAMP_NEEDED}
    ]
    # approvals and grants are stamped on every write: no condition may skip them
    assert all("matchConditions" not in h for n, h in hooks.items() if not n.startswith("aimodels-"))
