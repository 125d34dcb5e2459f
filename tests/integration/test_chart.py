"""Install the way users will (issue 7): the Helm chart on the real control plane, the operator under
exactly the chart's RBAC, peering between two replicas."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from modelguard.builders.webhooks import mutating_webhook_configuration, webhook_configuration
from tests.harness.audit import find, records
from tests.harness.client import KubeTestClient, eventually, wait_for_condition
from tests.harness.controlplane import REPO, ControlPlane
from tests.harness.models import KeyPair
from tests.harness.operator import OPERATOR_NAMESPACE, OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

pytestmark = pytest.mark.timeout(300)
CHART = REPO / "charts" / "modelguard"
KEY = KeyPair.generate()


def helm(cluster: ControlPlane, *args: str) -> str:
    result = subprocess.run(
        [str(cluster.bin / "helm"), *args], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(cluster: ControlPlane, *sets: str, release: str = "modelguard", tests: bool = False) -> list[dict[str, Any]]:
    out = helm(
        cluster,
        "template",
        release,
        str(CHART),
        "--namespace",
        OPERATOR_NAMESPACE,
        "--include-crds",
        *(() if tests else ("--skip-tests",)),
        *[a for s in sets for a in ("--set", s)],
    )
    return [d for d in yaml.safe_load_all(out) if d]


def test_helm_lint_is_clean(cluster: ControlPlane) -> None:
    out = helm(cluster, "lint", str(CHART), "--strict")
    assert "0 chart(s) failed" in out and "[WARNING]" not in out and "[ERROR]" not in out


@pytest.mark.parametrize("values", sorted(p.name for p in (CHART / "ci").glob("*-values.yaml")))
def test_ci_values_lint_and_render(cluster: ControlPlane, values: str) -> None:
    """The values files chart-testing (ct) runs, as platform teams' CI would."""
    path = str(CHART / "ci" / values)
    out = helm(cluster, "lint", str(CHART), "--strict", "-f", path)
    assert "0 chart(s) failed" in out and "[WARNING]" not in out
    docs = [d for d in yaml.safe_load_all(helm(cluster, "template", "mg", str(CHART), "-f", path)) if d]
    assert any(d["kind"] == "Deployment" for d in docs)


def test_chart_crds_and_install_bundle_are_current(cluster: ControlPlane) -> None:
    for crd in (REPO / "crds").glob("*.yaml"):
        assert (CHART / "crds" / crd.name).read_text() == crd.read_text(), f"run `make crds` ({crd.name})"
    out = helm(
        cluster,
        "template",
        "modelguard",
        str(CHART),
        "--namespace",
        OPERATOR_NAMESPACE,
        "--include-crds",
        "--skip-tests",
        "--set",
        "webhook.certManager.enabled=true",
    )
    assert (REPO / "manifests" / "install.yaml").read_text() == out, "manifests/install.yaml is stale: make manifests"


def test_chart_webhooks_match_the_tested_configuration(cluster: ControlPlane) -> None:
    docs = {d["kind"]: d for d in render(cluster) if "Webhook" in d["kind"]}
    tested = {
        "ValidatingWebhookConfiguration": webhook_configuration("x", b"ca", url="https://x"),
        "MutatingWebhookConfiguration": mutating_webhook_configuration("x", b"ca", url="https://x"),
    }
    for kind, expected in tested.items():

        def shape(hooks: list[dict[str, Any]]) -> list[Any]:
            return [
                (
                    h["name"],
                    h["failurePolicy"],
                    h["timeoutSeconds"],
                    h.get("namespaceSelector"),
                    h["rules"],
                    h["sideEffects"],
                    h.get("matchConditions"),
                    h["clientConfig"]
                    .get("url", h["clientConfig"].get("service", {}).get("path", ""))
                    .rsplit("/", 1)[-1],
                )
                for h in hooks
            ]

        assert shape(docs[kind]["webhooks"]) == shape(expected["webhooks"]), kind
        assert all(h["timeoutSeconds"] <= 5 for h in docs[kind]["webhooks"])


def test_values_schema_rejects_unpinned_gateway(cluster: ControlPlane) -> None:
    result = subprocess.run(
        [str(cluster.bin / "helm"), "template", "x", str(CHART), "--set", "gateway.image=nginx:latest"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "/gateway/image" in result.stderr


def test_the_audit_sink_takes_its_format_and_the_schema_refuses_unknown_ones(cluster: ControlPlane) -> None:
    docs = render(cluster, "audit.sink.url=https://siem.example/ingest", "audit.sink.format=ocsf")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "modelguard"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--audit-sink=https://siem.example/ingest" in args and "--audit-sink-format=ocsf" in args
    result = subprocess.run(
        [str(cluster.bin / "helm"), "template", "x", str(CHART), "--set", "audit.sink.format=cef"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "/audit/sink/format" in result.stderr


@pytest.mark.parametrize(
    ("sets", "budget"),
    [
        ((), 1),
        (("replicaCount=1",), None),  # a budget of one for one replica would block every node drain
        (("podDisruptionBudget.enabled=false",), None),
        (("replicaCount=3", "podDisruptionBudget.minAvailable=5"), 2),  # capped: one replica may go
    ],
)
def test_the_disruption_budget_follows_the_replicas(
    cluster: ControlPlane, sets: tuple[str, ...], budget: int | None
) -> None:
    found = [d for d in render(cluster, *sets) if d["kind"] == "PodDisruptionBudget"]
    assert [d["spec"]["minAvailable"] for d in found] == ([] if budget is None else [budget])


def test_the_chart_takes_what_platform_teams_set(cluster: ControlPlane) -> None:
    """Issue 14, item 5: pull secrets, pod labels and annotations, priority, spread, names, monitoring."""
    docs = render(
        cluster,
        "fullnameOverride=mg",
        "imagePullSecrets[0].name=regcred",
        "podLabels.team=platform",
        "podAnnotations.example\\.com/owner=platform",
        "priorityClassName=system-cluster-critical",
        "metrics.serviceMonitor.enabled=true",
        "metrics.serviceMonitor.namespace=monitoring",
        "metrics.serviceMonitor.labels.release=kps",
        "metrics.prometheusRule.enabled=true",
        "metrics.grafanaDashboard.enabled=true",
    ) + render(
        cluster,
        "topologySpreadConstraints[0].maxSkew=1",
        "topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
        "topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
    )
    (deployment,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "mg"]
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["team"] == "platform"
    assert pod["metadata"]["annotations"] == {"example.com/owner": "platform"}
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["spec"]["priorityClassName"] == "system-cluster-critical"
    assert pod["spec"]["serviceAccountName"] == "mg"
    policies = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy" and d["metadata"]["name"].startswith("mg-")]
    assert "system:serviceaccount:modelguard-system:mg" in json.dumps(policies)  # the write policy follows the name
    (monitor,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert monitor["metadata"]["namespace"] == "monitoring" and monitor["metadata"]["labels"]["release"] == "kps"
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"ModelGuardVerificationFailures", "ModelGuardQuarantine", "ModelGuardDecommissionStalled"} <= alerts
    assert {"ModelGuardWebhookDown", "ModelGuardAuditSinkBacklog", "ModelGuardAuditCommitSlow"} <= alerts
    (dashboard,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "mg-dashboard"]
    panels = json.loads(dashboard["data"]["modelguard.json"])["panels"]
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for metric in (
        "modelguard_webhook_duration_seconds_bucket",
        "modelguard_verified_bytes_total",
        "modelguard_workqueue_depth",
        "modelguard_audit_commit_duration_seconds_bucket",
    ):
        assert metric in exprs
    spread_docs = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "modelguard"]
    assert spread_docs[0]["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["maxSkew"] == 1


def test_webhook_certificate_renders_stably_when_managed_outside_the_chart(cluster: ControlPlane) -> None:
    """Issue 14, item 5: `helm template` (what Argo CD runs) with the chart's own CA makes a new one each time:
    a permanent diff. With webhook.existingSecret and its caBundle, or cert-manager, renders are identical."""
    import base64

    ca = base64.b64encode(cluster.ca.pem).decode()
    managed = ("webhook.existingSecret=my-webhook-tls", f"webhook.caBundle={ca}")
    assert render(cluster, *managed) == render(cluster, *managed)
    docs = render(cluster, *managed)
    assert not [d for d in docs if d["kind"] == "Secret"]  # nothing generated
    hooks = [h for d in docs if d["kind"].endswith("WebhookConfiguration") for h in d["webhooks"]]
    assert hooks and all(h["clientConfig"]["caBundle"] == ca for h in hooks)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "webhook-tls", "secret": {"secretName": "my-webhook-tls"}} in volumes
    assert render(cluster, "webhook.certManager.enabled=true") == render(cluster, "webhook.certManager.enabled=true")
    assert render(cluster) != render(cluster)  # the chart's own CA: documented, not for Argo CD


@pytest.mark.parametrize("managed", [False, True], ids=["chart-ca", "existing-secret"])
def test_helm_test_checks_the_webhook_with_the_ca_the_api_server_trusts(cluster: ControlPlane, managed: bool) -> None:
    """`helm test` runs a restricted pod that connects to the webhook Service over TLS, verifying the
    certificate against the CA the webhook configurations carry (it runs for real in `make e2e-local`)."""
    import base64

    sets = ("webhook.existingSecret=my-webhook-tls", f"webhook.caBundle={base64.b64encode(cluster.ca.pem).decode()}")
    docs = render(cluster, *(sets if managed else ()), tests=True)
    (pod,) = [d for d in docs if d["kind"] == "Pod"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "modelguard-test"  # never taken for an operator pod
    assert (
        pod["spec"]["securityContext"]["runAsNonRoot"] is True and pod["spec"]["automountServiceAccountToken"] is False
    )
    script = pod["spec"]["containers"][0]["command"][-1]
    assert "modelguard-webhook.modelguard-system.svc" in script and "/etc/webhook/ca.crt" in script
    (volume,) = pod["spec"]["volumes"]
    if managed:
        (ca,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("test-webhook-ca")]
        assert ca["data"]["ca.crt"] == cluster.ca.pem.decode() and volume["configMap"]["name"] == ca["metadata"]["name"]
    else:
        assert volume["secret"]["secretName"] == "modelguard-webhook-tls"
    assert not [d for d in render(cluster, *(sets if managed else ())) if d["kind"] == "Pod"]  # --skip-tests


def _apply(cluster: ControlPlane, docs: list[dict[str, Any]], *extra: str) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=helm",
        *extra,
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
        check=False,
    )


def _token_kubeconfig(cluster: ControlPlane, api: KubeTestClient, tmp: Path, account: str = "modelguard") -> Path:
    request = api.core.create_namespaced_service_account_token(
        account,
        OPERATOR_NAMESPACE,
        {"spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600}},
    )
    path = tmp / "chart-sa.kubeconfig"
    path.write_text(cluster.kubeconfig_text("modelguard-sa", token=request.status.token))
    return path


def test_chart_installs_and_the_operator_works_under_exactly_its_rbac(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    tmp_path: Path,
) -> None:
    docs = render(cluster)
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]  # Helm installs crds/ first
    assert _apply(cluster, crds).returncode == 0
    cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    rest = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
    dry = _apply(cluster, rest, "--dry-run=server")
    assert dry.returncode == 0, dry.stderr
    installed = [d for d in rest if "Webhook" not in d["kind"]]  # the webhooks would point at pods that do not run
    applied = _apply(cluster, installed)
    assert applied.returncode == 0, applied.stderr
    deployment = api.apps.read_namespaced_deployment("modelguard", OPERATOR_NAMESPACE)
    assert deployment.spec.replicas == 2
    assert "--priority=auto" in deployment.spec.template.spec.containers[0].args

    kubeconfig = _token_kubeconfig(cluster, api, tmp_path)
    sa_api = KubeTestClient(kubeconfig)
    with pytest.raises(ApiException) as err:
        sa_api.core.list_node()
    assert err.value.status == 403
    with pytest.raises(ApiException) as err:
        sa_api.core.create_namespaced_pod(
            namespace,
            {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "x", "image": "x@sha256:" + "0" * 64}]}},
        )
    assert err.value.status == 403
    with pytest.raises(ApiException) as err:
        k8s.RbacAuthorizationV1Api(sa_api.api).create_cluster_role({"metadata": {"name": "escalate"}, "rules": []})
    assert err.value.status == 403
    _writes_are_restricted(cluster, api, sa_api, namespace)

    chart_args = deployment.spec.template.spec.containers[0].args
    (label_arg,) = [a for a in chart_args if a.startswith("--enabled-namespace-label=")]
    operator.stop()
    restricted = OperatorProcess(kubeconfig, tmp_path / "restricted.log", extra_args=[*operator.extra_args, label_arg])
    restricted.webhook_port = operator.webhook_port
    try:
        restricted.restart()
        name = f"p-{namespace}"
        other = f"{namespace[:50]}-off"  # not enabled for ModelGuard
        cluster.kubectl("create", "namespace", other)
        selector = {
            "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": [namespace, other]}]
        }
        api.create(
            "trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"], namespaceSelector=selector)
        )
        off = publish(models_root, other, "m", KEY)
        api.create("aimodels", other, model("m", off.source, off.bundle, name))
        api.create("aideployments", other, ai_deployment("m-svc", "m"))
        held = wait_for_condition(
            api, "aideployments", other, "m-svc", "PolicyEnforced", "False", "NamespaceNotEnabled"
        )
        assert "modelguard.io/enabled=true" in json.dumps(held["status"]["conditions"])
        assert api.apps.list_namespaced_deployment(other).items == []  # nothing written there
        api.core.create_namespaced_secret(namespace, {"metadata": {"name": "dek"}, "stringData": {"k": "v"}})
        pub = publish(models_root, namespace, "m", KEY)
        api.create(
            "aimodels",
            namespace,
            model("m", pub.source, pub.bundle, name, endOfLife={"encryptionKeys": [{"name": "dek"}]}),
        )
        api.create("aideployments", namespace, ai_deployment("m-svc", "m"))
        wait_for_condition(api, "aideployments", namespace, "m-svc", "Ready", "True", timeout=60)
        api.patch("aimodels", namespace, "m", {"metadata": {"annotations": {"modelguard.io/scan-now": "rbac"}}})
        eventually(
            lambda: (
                ((api.get("aimodels", namespace, "m").get("status") or {}).get("lastScan") or {}).get("token") == "rbac"
            ),
            what="scan under the chart's RBAC",
        )
        uid = api.get("aimodels", namespace, "m")["metadata"]["uid"]
        api.delete("aimodels", namespace, "m")
        # the key is destroyed only once its owner marks it so (the policy would refuse the delete anyway)
        wait_for_condition(api, "aimodels", namespace, "m", "Decommissioned", "False", timeout=60)
        eventually(
            lambda: "NotMarkedForDeletion" in json.dumps(api.get("aimodels", namespace, "m")["status"]["conditions"]),
            what="the unmarked key to hold the decommission",
        )
        assert api.core.read_namespaced_secret("dek", namespace).metadata.name == "dek"
        api.core.patch_namespaced_secret(
            "dek", namespace, {"metadata": {"labels": {"modelguard.io/end-of-life": "delete"}}}
        )
        try:
            eventually(
                lambda: (
                    not any(
                        m["metadata"]["name"] == "m"
                        for m in api.custom.list_namespaced_custom_object(
                            "modelguard.io", "v1alpha1", namespace, "aimodels"
                        )["items"]
                    )
                ),
                timeout=60,
                what="decommissioned",
            )
        except AssertionError:
            left = api.get("aimodels", namespace, "m")
            raise AssertionError(json.dumps((left.get("status") or {}).get("conditions"))) from None
        certs = api.custom.list_cluster_custom_object(
            "modelguard.io", "v1alpha1", "decommissioncertificates", label_selector=f"modelguard.io/model-uid={uid}"
        )["items"]
        assert len(certs) == 1
        denial = 'system:serviceaccount:modelguard-system:modelguard" cannot'
        assert denial not in restricted.tail(2000)  # no RBAC denial on any code path exercised
        assert "operator-writes" not in restricted.tail(2000)  # nor a denial of the write policy
        api.delete("trustpolicies", None, name)
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)
    finally:
        restricted.stop()
        operator.restart()


def _writes_are_restricted(cluster: ControlPlane, api: KubeTestClient, sa: KubeTestClient, namespace: str) -> None:
    """Issue 13, class 13: the operator's own token, used as an attacker who stole it would, cannot write
    outside enabled namespaces, touch objects it does not manage, or create a Deployment with host access."""
    managed = {"app.kubernetes.io/managed-by": "modelguard"}
    elsewhere = f"{namespace[:50]}-victim"
    cluster.kubectl("create", "namespace", elsewhere)
    try:

        def refused_in(target: str) -> ApiException | None:
            try:
                sa.core.create_namespaced_config_map(target, {"metadata": {"name": "x", "labels": managed}})
            except ApiException as exc:
                return exc
            api.core.delete_namespaced_config_map("x", target)  # the policy was not loaded yet
            return None

        for target in (elsewhere, "kube-system"):  # the API server loads a new policy within a second or so
            exc = eventually(lambda t=target: refused_in(t), timeout=20, what=f"the write policy in {target}")
            assert exc.status == 403 and "modelguard.io/enabled=true" in str(exc.body)
        cluster.kubectl("label", "namespace", namespace, "modelguard.io/enabled=true")
        api.core.create_namespaced_secret(namespace, {"metadata": {"name": "tenant-secret"}, "stringData": {"k": "v"}})
        api.core.create_namespaced_config_map(namespace, {"metadata": {"name": "tenant-config"}, "data": {"k": "v"}})
        with pytest.raises(ApiException) as err:
            sa.core.delete_namespaced_secret("tenant-secret", namespace)
        assert err.value.status == 403 and "end-of-life" in str(err.value.body)
        with pytest.raises(ApiException) as err:
            sa.core.patch_namespaced_config_map("tenant-config", namespace, {"metadata": {"labels": managed}})
        assert err.value.status == 403 and "only objects it manages" in str(err.value.body)
        host = {
            "metadata": {"name": "escape", "labels": managed},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "x@sha256:" + "0" * 64}]},
                },
            },
        }
        with pytest.raises(ApiException) as err:
            sa.apps.create_namespaced_deployment(namespace, host)
        assert err.value.status == 403 and "host access" in str(err.value.body)
        assert api.core.read_namespaced_secret("tenant-secret", namespace).data == {"k": "dg=="}
        assert api.core.read_namespaced_config_map("tenant-config", namespace).metadata.labels is None
        assert api.apps.list_namespaced_deployment(namespace).items == []
    finally:
        cluster.kubectl("delete", "namespace", elsewhere, "--wait=false", check=False)


def test_two_replicas_peer_and_the_survivor_takes_over(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    peering = [
        d
        for d in render(cluster)
        if d["kind"] in ("CustomResourceDefinition", "ClusterKopfPeering") and "kopf" in json.dumps(d)
    ]
    applied = _apply(cluster, [d for d in peering if d["kind"] == "CustomResourceDefinition"])
    assert applied.returncode == 0, applied.stderr
    cluster.kubectl("wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev", "--timeout=30s")
    assert _apply(cluster, [d for d in peering if d["kind"] == "ClusterKopfPeering"]).returncode == 0

    operator.stop()
    for hook in operator.webhook_configs:  # both peers would need the one webhook port: admission off meanwhile
        cluster.kubectl("delete", hook["kind"].lower(), str(hook["metadata"]["name"]), check=False)  # type: ignore[index]
    base = [
        a
        for a in operator.extra_args
        if not a.startswith("--webhook")
        and not a.endswith((".crt", ".key"))
        and a not in ("127.0.0.1",)
        and not a.isdigit()
    ]
    common = ["--namespace", OPERATOR_NAMESPACE, "--file-root", str(models_root), "--peering-lifetime", "8"]
    high = OperatorProcess(
        cluster.kubeconfig,
        tmp_path / "high.log",
        extra_args=[*common, "--priority", "100", "--peering", "modelguard"],
        standalone=False,
    )
    low = OperatorProcess(
        cluster.kubeconfig,
        tmp_path / "low.log",
        extra_args=[*common, "--priority", "50", "--peering", "modelguard"],
        standalone=False,
    )
    del base
    try:
        high.start()
        low.start()
        time.sleep(3)
        name = f"p-{namespace}"
        api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
        pub = publish(models_root, namespace, "first", KEY)
        api.create("aimodels", namespace, model("first", pub.source, pub.bundle, name))
        wait_for_condition(api, "aimodels", namespace, "first", "Verified", "True", timeout=60)
        time.sleep(1)
        eventually(lambda: "AIModel/" + namespace + "/first" in high.tail(400), what="the leader's log line")
        assert "AIModel/" + namespace + "/first" not in low.tail(400)

        high.kill()
        started = time.monotonic()
        pub = publish(models_root, namespace, "second", KEY)
        api.create("aimodels", namespace, model("second", pub.source, pub.bundle, name))
        wait_for_condition(api, "aimodels", namespace, "second", "Verified", "True", timeout=90)
        assert time.monotonic() - started < 60
        eventually(lambda: "AIModel/" + namespace + "/second" in low.tail(400), what="the survivor's log line")
        # the survivor's cache fills after the takeover: nothing it already trusted may flap to rejected
        assert not find(records(tmp_path_factory.getbasetemp()), namespace=namespace, action="Rejected")
        api.delete("trustpolicies", None, name)
    finally:
        high.stop()
        low.stop()
        for hook in operator.webhook_configs:
            cluster.kubectl("apply", "-f", "-", stdin=json.dumps(hook))
        operator.restart()


RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def test_a_namespace_scoped_install_cannot_read_secrets_elsewhere(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    tmp_path: Path,
) -> None:
    """watchNamespaces: the operator's access to Secrets (and every namespaced kind) is granted by Roles in
    those namespaces and its own; RBAC, not only the code, stops it elsewhere."""
    other = f"{namespace[:50]}-other"
    cluster.kubectl("create", "namespace", other)
    api.core.create_namespaced_secret(other, {"metadata": {"name": "elsewhere"}, "stringData": {"k": "v"}})
    api.core.create_namespaced_secret(namespace, {"metadata": {"name": "here"}, "stringData": {"k": "v"}})
    rbac = [
        d for d in render(cluster, f"watchNamespaces[0]={namespace}", release="mg-scoped") if d["kind"] in RBAC_KINDS
    ]
    assert {(d["kind"], d["metadata"].get("namespace")) for d in rbac if d["kind"] == "Role"} == {
        ("Role", namespace),
        ("Role", OPERATOR_NAMESPACE),
    }
    assert _apply(cluster, rbac).returncode == 0
    kubeconfig = _token_kubeconfig(cluster, api, tmp_path, "mg-scoped")
    sa = KubeTestClient(kubeconfig)
    assert sa.core.read_namespaced_secret("here", namespace).metadata.name == "here"
    for forbidden in (
        lambda: sa.core.read_namespaced_secret("elsewhere", other),
        lambda: sa.core.list_secret_for_all_namespaces(),
        lambda: sa.core.list_namespaced_config_map(other),
    ):
        with pytest.raises(ApiException) as err:
            forbidden()
        assert err.value.status == 403

    operator.stop()
    scoped = OperatorProcess(
        kubeconfig, tmp_path / "scoped.log", extra_args=[*operator.extra_args, "--watch-namespace", namespace]
    )
    scoped.webhook_port = operator.webhook_port
    names = [f"p-{namespace}", f"p-{other}"[:63]]
    try:
        scoped.restart()
        api.create("trustpolicies", None, policy(names[0], namespace, KEY, [f"file://{models_root}/"]))
        api.create("trustpolicies", None, policy(names[1], other, KEY, [f"file://{models_root}/"]))
        pub = publish(models_root, namespace, "m", KEY)
        api.create("aimodels", namespace, model("m", pub.source, pub.bundle, names[0]))
        api.create("aideployments", namespace, ai_deployment("m-svc", "m"))
        api.create("aimodels", other, model("m", pub.source, pub.bundle, names[1]))  # admitted, not served
        wait_for_condition(api, "aideployments", namespace, "m-svc", "Ready", "True", timeout=60)
        time.sleep(2)
        assert not api.get("aimodels", other, "m").get("status")
        denial = f'system:serviceaccount:{OPERATOR_NAMESPACE}:mg-scoped" cannot'
        assert denial not in scoped.tail(2000)  # no RBAC denial on any path exercised
    finally:
        scoped.stop()
        operator.restart()
        for name in names:
            api.delete("trustpolicies", None, name)
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)
        for doc in rbac:
            if doc["kind"] != "ServiceAccount":
                cluster.kubectl(
                    "delete",
                    doc["kind"].lower(),
                    doc["metadata"]["name"],
                    *(["-n", doc["metadata"]["namespace"]] if doc["metadata"].get("namespace") else []),
                    "--ignore-not-found",
                    check=False,
                )
