"""Network and access policy around every AIDeployment (issue 4), on the real control plane."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from modelguard.domain.authority import AUTHORITY
from tests.harness.client import KubeTestClient, condition, eventually, gone, wait_for_condition
from tests.harness.controlplane import ControlPlane, grant
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

pytestmark = pytest.mark.timeout(240)
KEY = KeyPair.generate()
API_KEYS = {"payments": "payments-key-0123456789abcdef", "fraud-ui": "fraud-ui-key-0123456789abcdef"}


def model_with_keys(api: KubeTestClient, namespace: str, models_root: Path) -> str:
    """A TrustPolicy for the namespace, the API keys Secret and a signed model `m`; returns the policy name."""
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    api.core.create_namespaced_secret(namespace, {"metadata": {"name": "api-keys"}, "stringData": API_KEYS})
    pub = publish(models_root, namespace, "m", KEY)
    api.create("aimodels", namespace, model("m", pub.source, pub.bundle, name))
    return name


@pytest.fixture
def served(api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path) -> str:
    """A verified model served by an AIDeployment with clients, egress, DNS, API keys and a rate limit."""
    name = model_with_keys(api, namespace, models_root)
    api.create(
        "aideployments",
        namespace,
        ai_deployment(
            "svc",
            "m",
            access={
                "allowedClients": [
                    {"namespaceSelector": {"matchLabels": {"team": "payments"}}},
                    {"podSelector": {"matchLabels": {"app": "fraud-ui"}}},
                ],
                "egress": [{"cidr": "10.20.0.0/16", "ports": [443]}],
                "allowDns": True,
            },
            authentication={"apiKeysSecretRef": {"name": "api-keys"}},
            rateLimit={"requestsPerSecond": 5, "burst": 10},
        ),
    )
    wait_condition(api, namespace, "svc", "Ready", "True")
    yield "svc"
    api.delete("trustpolicies", None, name)


def wait_condition(
    api: KubeTestClient, ns: str, name: str, type_: str, status: str, reason: str | None = None, timeout: float = 45
) -> dict[str, Any]:
    return wait_for_condition(api, "aideployments", ns, name, type_, status, reason, timeout)


def netpol(api: KubeTestClient, ns: str, name: str) -> dict[str, Any]:
    return api.api.sanitize_for_serialization(k8s.NetworkingV1Api(api.api).read_namespaced_network_policy(name, ns))


def test_default_deny_and_exactly_the_declared_traffic(api: KubeTestClient, namespace: str, served: str) -> None:
    deny = netpol(api, namespace, "svc-deny-all")["spec"]
    assert deny["podSelector"]["matchLabels"] == {
        "modelguard.io/aideployment": "svc",
        "app.kubernetes.io/component": "model-server",
    }
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny and "egress" not in deny
    allow = netpol(api, namespace, "svc-allow")["spec"]
    clients, monitoring = allow["ingress"]
    assert clients["ports"] == [{"port": 8000, "protocol": "TCP"}]  # the gateway, never the model server
    assert clients["from"] == [
        {"namespaceSelector": {"matchLabels": {"team": "payments"}}},
        {"podSelector": {"matchLabels": {"app": "fraud-ui"}}},
    ]
    assert monitoring["ports"] == [{"port": 8001, "protocol": "TCP"}]
    assert monitoring["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    # the model server reaches its model cache and nothing else; the declared egress (the source) and DNS
    # are the cache's: the one pod that fetches from the source (issue 12)
    cache_pods = {"modelguard.io/aideployment": "svc", "app.kubernetes.io/component": "model-cache"}
    assert allow["egress"] == [
        {"to": [{"podSelector": {"matchLabels": cache_pods}}], "ports": [{"port": 8090, "protocol": "TCP"}]}
    ]
    cache = netpol(api, namespace, "svc-model-cache")["spec"]
    assert cache["podSelector"]["matchLabels"] == cache_pods
    assert cache["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": deny["podSelector"]["matchLabels"]}}],
            "ports": [{"port": 8090, "protocol": "TCP"}],
        }
    ]
    cidr, dns = cache["egress"]
    assert cidr == {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 443, "protocol": "TCP"}]}
    assert {"port": 53, "protocol": "UDP"} in dns["ports"]
    cache_service = api.core.read_namespaced_service("svc-model-cache", namespace)
    server = api.apps.read_namespaced_deployment("svc", namespace).spec.template.spec
    init_args = server.init_containers[0].args
    assert init_args[init_args.index("--via") + 1] == f"http://{cache_service.spec.cluster_ip}:8090"
    assert not [v for v in server.volumes if v.secret is not None and v.name == "credentials"]
    body = api.get("aideployments", namespace, served)
    assert condition(body, "PolicyEnforced")["reason"] == "Enforced"  # no false drift after settling
    assert condition(body, "Authenticated")["status"] == "True"


def test_gateway_is_the_only_way_in_and_keys_stay_secret(api: KubeTestClient, namespace: str, served: str) -> None:
    deployment = api.apps.read_namespaced_deployment("svc", namespace)
    containers = {c.name: c for c in deployment.spec.template.spec.containers}
    assert containers["gateway"].ports[0].container_port == 8000
    assert any(m.name == "gateway-keys" for m in containers["gateway"].volume_mounts)
    assert not any(m.name == "gateway-keys" for m in containers["model-server"].volume_mounts)
    service = api.core.read_namespaced_service("svc", namespace)
    assert service.spec.ports[0].target_port == "gateway" and service.spec.type == "ClusterIP"
    gateway_config = api.core.read_namespaced_config_map("svc-gateway", namespace).data
    conf = gateway_config["nginx.conf"]
    card = json.loads(gateway_config["model-card.json"])
    assert card["model"] == "m" and card["intendedUse"] == "tests" and card["digest"].startswith("sha256:")
    assert "rate=5r/s" in conf and "burst=10" in conf and "proxy_pass http://127.0.0.1:8080" in conf
    keys = api.core.read_namespaced_secret("svc-gateway-keys", namespace)
    assert keys.metadata.owner_references[0].kind == "AIDeployment"
    everything = json.dumps(
        [
            api.api.sanitize_for_serialization(o)
            for o in (api.core.list_namespaced_config_map(namespace), api.core.list_namespaced_event(namespace))
        ]
    )
    everything += json.dumps(api.get("aideployments", namespace, served))
    for key in API_KEYS.values():
        assert key not in everything and key not in conf


def test_workload_service_account_can_do_nothing(api: KubeTestClient, namespace: str, served: str) -> None:
    sa = api.core.read_namespaced_service_account("svc-model", namespace)
    assert sa.automount_service_account_token is False
    authz = k8s.AuthorizationV1Api(api.api)
    user = f"system:serviceaccount:{namespace}:svc-model"
    for verb, resource in [
        ("get", "secrets"),
        ("list", "pods"),
        ("get", "configmaps"),
        ("create", "pods"),
        ("list", "aimodels"),
        ("watch", "services"),
    ]:
        review = authz.create_subject_access_review(
            {
                "spec": {
                    "user": user,
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
                    "resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource},
                }
            }
        )
        assert review.status.allowed is False, (verb, resource)


def test_pod_security_condition_follows_the_namespace_labels(api: KubeTestClient, namespace: str, served: str) -> None:
    body = api.get("aideployments", namespace, served)
    assert condition(body, "PodSecurity")["reason"] == "NamespaceNotRestricted"
    api.core.patch_namespace(namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    wait_condition(api, namespace, served, "PodSecurity", "True", "Restricted")
    # the workload passes the real PodSecurity admission at the restricted level
    api.apps.patch_namespaced_deployment(
        "svc", namespace, {"spec": {"template": {"metadata": {"annotations": {"test/restart": "1"}}}}}
    )
    eventually(
        lambda: api.apps.read_namespaced_deployment("svc", namespace).status.updated_replicas == 1,
        what="pods recreated under restricted PSA",
    )


def _open_allow_policy(api: KubeTestClient, ns: str) -> None:
    k8s.NetworkingV1Api(api.api).patch_namespaced_network_policy("svc-allow", ns, {"spec": {"ingress": [{}]}})


def _delete_deny_policy(api: KubeTestClient, ns: str) -> None:
    k8s.NetworkingV1Api(api.api).delete_namespaced_network_policy("svc-deny-all", ns)


def _mount_token(api: KubeTestClient, ns: str) -> None:
    api.core.patch_namespaced_service_account("svc-model", ns, {"automountServiceAccountToken": True})


def _remove_token_setting(api: KubeTestClient, ns: str) -> None:
    """A removed field belongs to no field manager afterwards; unset, pods mount the token again."""
    patch = [{"op": "remove", "path": "/automountServiceAccountToken"}]  # a list: sent as a JSON patch
    api.core.patch_namespaced_service_account("svc-model", ns, patch)


def _run_as_root(api: KubeTestClient, ns: str) -> None:
    patch = {"spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": False, "runAsUser": 0}}}}}
    api.apps.patch_namespaced_deployment("svc", ns, patch)


DRIFT = {
    "network-policy-opened": (
        _open_allow_policy,
        "NetworkPolicy/svc-allow",
        lambda api, ns: netpol(api, ns, "svc-allow")["spec"]["ingress"][0].get("from"),
    ),
    "network-policy-deleted": (
        _delete_deny_policy,
        "NetworkPolicy/svc-deny-all",
        lambda api, ns: netpol(api, ns, "svc-deny-all"),
    ),
    "service-account-token": (
        _mount_token,
        "ServiceAccount/svc-model",
        lambda api, ns: (
            api.core.read_namespaced_service_account("svc-model", ns).automount_service_account_token is False
        ),
    ),
    "service-account-token-setting-removed": (
        _remove_token_setting,
        "ServiceAccount/svc-model",
        lambda api, ns: (
            api.core.read_namespaced_service_account("svc-model", ns).automount_service_account_token is False
        ),
    ),
    "pod-runs-as-root": (
        _run_as_root,
        "Deployment/svc",
        lambda api, ns: (
            api.apps.read_namespaced_deployment("svc", ns).spec.template.spec.security_context.run_as_user == 65532
        ),
    ),
}


@pytest.mark.parametrize("case", list(DRIFT))
def test_drift_is_reverted_and_reported(api: KubeTestClient, namespace: str, served: str, case: str) -> None:
    mutate, what, restored = DRIFT[case]
    mutate(api, namespace)
    eventually(lambda: restored(api, namespace), what=f"{what} restored")
    body = wait_condition(api, namespace, served, "PolicyEnforced", "True", "DriftReverted")
    assert what in condition(body, "PolicyEnforced")["message"]

    def event() -> bool:  # posted right after the status write that reports it (failed once: read in between)
        events = api.core.list_namespaced_event(namespace, field_selector="reason=DriftReverted").items
        return any(what in (e.message or "") for e in events)

    eventually(event, timeout=15, what=f"a DriftReverted Event naming {what}")


def test_the_owners_own_change_is_applied_not_reported_as_drift(
    api: KubeTestClient, namespace: str, served: str
) -> None:
    """Issue 15: replicas 1 -> 2 and a new rate limit in the AIDeployment changed the Deployment and the gateway
    ConfigMap, and were announced as "reverted changes made outside ModelGuard". Drift is someone else's."""
    api.patch("aideployments", namespace, served, {"spec": {"replicas": 2, "rateLimit": {"requestsPerSecond": 7}}})
    eventually(lambda: api.apps.read_namespaced_deployment("svc", namespace).spec.replicas == 2, what="replicas 2")
    conf = lambda: api.core.read_namespaced_config_map("svc-gateway", namespace).data["nginx.conf"]  # noqa: E731
    eventually(lambda: "rate=7r/s" in conf(), what="the new rate limit applied")
    body = wait_condition(api, namespace, served, "PolicyEnforced", "True")
    generation = body["metadata"]["generation"]
    body = eventually(
        lambda: (
            (b := api.get("aideployments", namespace, served))
            and condition(b, "PolicyEnforced")["observedGeneration"] == generation
            and b
        ),
        what="PolicyEnforced for the new generation",
    )
    assert condition(body, "PolicyEnforced")["reason"] == "Enforced", condition(body, "PolicyEnforced")
    assert api.core.list_namespaced_event(namespace, field_selector="reason=DriftReverted").items == []
    # and someone else's change right after is still drift
    _run_as_root(api, namespace)
    body = eventually(
        lambda: (
            (b := api.get("aideployments", namespace, served))
            and "Deployment/svc" in condition(b, "PolicyEnforced")["message"]
            and b
        ),
        what="the drift reported",
    )
    assert condition(body, "PolicyEnforced")["reason"] == "DriftReverted"
    assert "securityContext" in condition(body, "PolicyEnforced")["message"]
    assert "replicas" not in condition(body, "PolicyEnforced")["message"]


def test_invalid_api_keys_hold_the_rollout(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    api.core.create_namespaced_secret(namespace, {"metadata": {"name": "weak"}, "stringData": {"ui": "short"}})
    api.create(
        "aideployments",
        namespace,
        ai_deployment("weak-svc", "m", authentication={"apiKeysSecretRef": {"name": "weak"}}),
    )
    pub = publish(models_root, namespace, "m", KEY)
    api.create("aimodels", namespace, model("m", pub.source, pub.bundle, name))
    body = wait_condition(api, namespace, "weak-svc", "PolicyEnforced", "False", "InvalidAPIKeys")
    message = condition(body, "PolicyEnforced")["message"]
    assert "ui" in message and "short" not in message
    assert condition(body, "Ready")["status"] == "False"
    assert api.apps.list_namespaced_deployment(namespace).items == []
    api.delete("trustpolicies", None, name)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"hostNetwork": True}, 'unknown field "spec.hostNetwork"', id="host-network"),
        pytest.param(
            {"runtime": {"image": "r@sha256:" + "a" * 64, "securityContext": {"privileged": True}}},
            'unknown field "spec.runtime.securityContext"',
            id="privileged",
        ),
        pytest.param({"volumes": [{"hostPath": {"path": "/"}}]}, 'unknown field "spec.volumes"', id="host-path"),
        pytest.param(
            {"runtime": {"image": "r@sha256:" + "a" * 64, "port": 8000}},
            "ports 8000 and 8001 are the gateway's",
            id="gateway-port",
        ),
        pytest.param(
            {"access": {"exposure": "External"}, "rateLimit": {"requestsPerSecond": 5}},
            "External exposure requires authentication and rateLimit",
            id="external-without-auth",
        ),
    ],
)
def test_specs_that_would_weaken_the_pod_are_refused(
    cluster: ControlPlane, operator: OperatorProcess, namespace: str, spec: dict[str, Any], message: str
) -> None:
    obj = ai_deployment("unsafe", "m")
    obj["spec"].update(spec)
    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj), check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_quarantine_cuts_the_network(api: KubeTestClient, namespace: str, served: str) -> None:
    api.patch("trustpolicies", None, f"p-{namespace}", {"spec": {"revokedKeys": ["publisher-2026"]}})
    wait_condition(api, namespace, served, "Quarantined", "True")
    eventually(
        lambda: netpol(api, namespace, "svc-allow")["spec"].get("ingress") in (None, []), what="allow policy emptied"
    )
    assert api.apps.read_namespaced_deployment("svc", namespace).spec.replicas == 0


def reported(api: KubeTestClient, ns: str, name: str, what: str) -> dict[str, Any]:
    """The AIDeployment once its last reverted drift (status.lastDrift, audited) names `what`."""
    return eventually(
        lambda: (
            (b := api.get("aideployments", ns, name))
            and what in ((b.get("status") or {}).get("lastDrift") or {}).get("objects", "")
            and b
        ),
        what=f"lastDrift naming {what}",
    )


def test_a_quarantine_is_enforced_on_every_pass(api: KubeTestClient, namespace: str, served: str) -> None:
    """While quarantined, what the quarantine consists of is re-enforced like any child (issue 28 item 4): an
    allow-all rule someone adds to the deny-all policy, or replicas someone scales back up, are reverted, by
    the one writer of those fields (the AIDeployment reconcile, under the operator's one field manager)."""
    api.patch("trustpolicies", None, f"p-{namespace}", {"spec": {"revokedKeys": ["publisher-2026"]}})
    wait_condition(api, namespace, served, "Quarantined", "True")
    eventually(lambda: api.apps.read_namespaced_deployment("svc", namespace).spec.replicas == 0, what="scaled to 0")
    k8s.NetworkingV1Api(api.api).patch_namespaced_network_policy("svc-deny-all", namespace, {"spec": {"ingress": [{}]}})
    eventually(lambda: "ingress" not in netpol(api, namespace, "svc-deny-all")["spec"], what="deny-all restored")
    body = reported(api, namespace, served, "NetworkPolicy/svc-deny-all")
    api.apps.patch_namespaced_deployment_scale("svc", namespace, {"spec": {"replicas": 3}})
    eventually(lambda: api.apps.read_namespaced_deployment("svc", namespace).spec.replicas == 0, what="scaled to 0")
    body = reported(api, namespace, served, "Deployment/svc")
    managers = {f.manager for f in api.apps.read_namespaced_deployment("svc", namespace).metadata.managed_fields}
    assert "modelguard-quarantine" not in managers
    assert condition(body, "Quarantined")["status"] == "True"

    def event(what: str) -> bool:
        events = api.core.list_namespaced_event(namespace, field_selector="reason=DriftReverted").items
        return any(what in (e.message or "") for e in events)

    eventually(lambda: event("NetworkPolicy/svc-deny-all") and event("Deployment/svc"), what="both DriftReverted")


def test_external_exposure_needs_a_public_model_card(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    name = model_with_keys(api, namespace, models_root)
    api.create(
        "aideployments",
        namespace,
        ai_deployment(
            "public",
            "m",
            access={"exposure": "External"},
            authentication={"apiKeysSecretRef": {"name": "api-keys"}},
            rateLimit={"requestsPerSecond": 5, "burst": 5},
        ),
    )
    body = wait_condition(api, namespace, "public", "Ready", "False", "ModelCardIncomplete")
    assert "limitations, prohibitedUses, dataUsage" in condition(body, "Ready")["message"]
    assert api.apps.list_namespaced_deployment(namespace).items == []
    api.patch(
        "aimodels",
        namespace,
        "m",
        {
            "spec": {
                "card": {
                    "limitations": ["synthetic test data only"],
                    "prohibitedUses": ["production decisions"],
                    "dataUsage": "requests are logged for 30 days for security review",
                }
            }
        },
    )
    wait_condition(api, namespace, "public", "Ready", "True", timeout=60)
    assert api.core.read_namespaced_service("public", namespace).spec.type == "LoadBalancer"
    api.delete("trustpolicies", None, name)


def test_naming_a_service_account_needs_the_right_to_run_pods(
    cluster: ControlPlane, operator: OperatorProcess, namespace: str
) -> None:
    grant(cluster, namespace, "bob", ["aideployments"])
    obj = ai_deployment("privileged-sa", "m", serviceAccountName="ci-deployer")
    refused = cluster.kubectl("apply", "-n", namespace, "--as", "bob", "-f", "-", stdin=json.dumps(obj), check=False)
    assert refused.returncode != 0
    assert "bob may not create pods" in refused.stderr
    plain = cluster.kubectl(
        "apply", "-n", namespace, "--as", "bob", "-f", "-", stdin=json.dumps(ai_deployment("plain", "m")), check=False
    )
    assert plain.returncode == 0, plain.stderr  # without naming an account, the generated token-less one is used
    allowed = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj), check=False)
    assert allowed.returncode == 0, allowed.stderr  # the admin may run pods, so may name the account


def test_a_service_account_admitted_by_nobody_never_runs(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """Issue 13, class 5: admission is not the only guard. In a namespace whose admission only warns, with the
    operator down, bob (no right to run pods) names a privileged ServiceAccount; nothing runs as it. A grant
    copied from a deployment the admin was granted does not carry over either."""
    name = model_with_keys(api, namespace, models_root)
    wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")
    cluster.kubectl("label", "namespace", namespace, "modelguard.io/admission=warn")
    grant(cluster, namespace, "bob", ["aideployments"])
    cluster.kubectl("create", "serviceaccount", "ci-deployer", "-n", namespace)
    admitted = cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(ai_deployment("granted", "m", serviceAccountName="ci-deployer")),
    )
    assert admitted.returncode == 0
    grant_value = api.get("aideployments", namespace, "granted")["metadata"]["annotations"][AUTHORITY]
    wait_condition(api, namespace, "granted", "Ready", "True", timeout=60)  # the admin may: it runs as the account

    operator.kill()
    try:
        sneaky = ai_deployment("sneaky", "m", serviceAccountName="ci-deployer")
        forged = ai_deployment("forged", "m", serviceAccountName="ci-deployer")
        forged["metadata"]["annotations"] = {AUTHORITY: grant_value}  # copied from `granted`
        for obj in (sneaky, forged):
            written = cluster.kubectl(
                "apply", "-n", namespace, "--as", "bob", "-f", "-", stdin=json.dumps(obj), check=False
            )
            assert written.returncode == 0, written.stderr  # the webhooks are down and this namespace only warns
    finally:
        operator.restart()
    for dep in ("sneaky", "forged"):
        body = wait_condition(api, namespace, dep, "PolicyEnforced", "False", "ServiceAccountNotAdmitted", timeout=60)
        assert condition(body, "Ready")["status"] == "False"
        assert gone(lambda d=dep: api.apps.read_namespaced_deployment(d, namespace))
    message = condition(api.get("aideployments", namespace, "forged"), "PolicyEnforced")["message"]
    assert "issued for another name" in message
    api.delete("trustpolicies", None, name)
