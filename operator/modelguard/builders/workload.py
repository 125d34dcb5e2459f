"""Desired objects of an AIDeployment's workload: pure functions, typed facts in, manifests out."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from modelguard.api.aideployment import CONTROL_PLANE_LABELS, AIDeploymentSpec
from modelguard.api.base import API_VERSION
from modelguard.api.condition_reasons import Reason
from modelguard.builders.gateway import CONF_DIR, KEYS_DIR
from modelguard.builders.labels import DIGEST_ANNOTATION, labels, object_name, selector
from modelguard.builders.network import GATEWAY_PORT, STATUS_PORT
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import pack_signature

VERIFY_DIR = "/etc/modelguard/verify"
CREDENTIALS_DIR = "/etc/modelguard/credentials"
RUN_AS = 65532
# ModelGuard's gateway image (Debian nginx-light, non-root; hack/images/gateway.Dockerfile); the chart
# passes the one it installs with (values.gateway.image, pinned by digest when set)
DEFAULT_GATEWAY_IMAGE = "ghcr.io/modelguard/gateway:0.1.0"
GATEWAY_HASH_ANNOTATION = "modelguard.io/gateway-config"
TMP = "/tmp"  # noqa: S108 (a pod-private emptyDir, not the host's /tmp)


@dataclass(frozen=True)
class WorkloadFacts:
    """Everything the builders need besides the spec; gathered by the reconciler."""

    name: str
    namespace: str
    uid: str
    spec: AIDeploymentSpec
    digest: str
    source: str
    signature_format: str
    signer: str  # the id of the key or CA that trusted the verified signature
    operator_image: str
    credentials_secret: str | None = None
    credentials_type: str | None = None  # that Secret's type (the pod's fetch reads it by the operator's rule)
    replicas: int | None = None  # overrides spec.replicas (quarantine scales to zero)
    gateway_image: str = DEFAULT_GATEWAY_IMAGE
    gateway_hash: str = ""  # of the gateway configuration and keys: a change rolls the pods
    model_card: str = "{}"  # public model card served at /model-card
    ca_bundle: str | None = None  # PEM CAs the operator trusts for https:// and oci:// sources (public)
    verification: str = ""  # name of the verification ConfigMap (verify_config), which the pods mount
    cache_url: str = ""  # http://<cluster IP>:<port> of the model cache the model server pods fetch from
    method: Literal["key", "certificate", "sigstore"] = "key"  # how the verified signature was signed
    sigstore_identity: tuple[str, str] | None = None  # (certificate identity, OIDC issuer) for method sigstore
    inspection: tuple[str, ...] = ()  # `modelguard verify` options that inspect after verifying (the policy's)
    sigstore_trust_config: bool = False  # a private Sigstore's trust configuration is in the verification ConfigMap


def owner(facts: WorkloadFacts) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "AIDeployment",
        "name": facts.name,
        "uid": facts.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def meta(facts: WorkloadFacts, name: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": facts.namespace,
        "labels": labels(facts.name, component),
        "ownerReferences": [owner(facts)],
    }


def names(deployment: str) -> dict[str, str]:
    return {
        "deployment": object_name(deployment),
        "service": object_name(deployment),
        "serviceaccount": object_name(deployment, "model"),
        "verify": object_name(deployment, "verify"),
        "gateway": object_name(deployment, "gateway"),
        "gateway-keys": object_name(deployment, "gateway-keys"),
        "cache": object_name(deployment, "model-cache"),
    }


def service_account(facts: WorkloadFacts) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(facts, names(facts.name)["serviceaccount"], "model-server"),
        "automountServiceAccountToken": False,
    }


CONFIGMAP_LIMIT = 1024 * 1024 - 4096  # the API server's 1 MiB for a ConfigMap's data, less room for keys


def verify_config(facts: WorkloadFacts, signature: bytes, trust_material: bytes | None) -> dict[str, Any]:
    """The signed manifest (gzip) and what the signer is trusted by (all public), mounted into the init
    container: the key's PEM or the CA certificates, or for Sigstore a private instance's client trust
    configuration (None: the public-good trust root in the image).
    Immutable and named by its content: nobody can edit what a pod verifies with between the operator's
    verification and the pod's start, and new material is a new ConfigMap (and a rollout). Raises
    SignatureTooLarge when it cannot fit in one ConfigMap."""
    packed = pack_signature(signature)
    material = {} if trust_material is None else {TRUST_FILE[facts.method]: trust_material.decode()}
    data = {
        **material,
        "digest": facts.digest,
        **({"ca.crt": facts.ca_bundle} if facts.ca_bundle else {}),
    }
    size = len(packed) + sum(len(v.encode()) for v in data.values())
    if size > CONFIGMAP_LIMIT:
        raise VerificationError(
            Reason.SIGNATURE_TOO_LARGE,
            f"the signature ({len(signature)} bytes, {len(packed)} compressed) and the verification material "
            f"do not fit in one ConfigMap ({CONFIGMAP_LIMIT} bytes)",
        )
    binary = {"signature": base64.b64encode(packed).decode()}
    content = hashlib.sha256(json.dumps([data, binary], sort_keys=True).encode()).hexdigest()[:10]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(facts, object_name(facts.name, f"verify-{content}"), "verification"),
        "immutable": True,
        "data": data,
        "binaryData": binary,
    }


def restricted() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


TRUST_FILE = {"key": "signer.pem", "certificate": "signer.pem", "sigstore": "trust-config.json"}


def trust_args(facts: WorkloadFacts) -> list[str]:
    """What the init container trusts: exactly what vouched for the signature the operator verified (the
    key or CA under its TrustPolicy id; the certificate identity and OIDC issuer a Sigstore identity matched)."""
    if facts.method == "sigstore":
        assert facts.sigstore_identity is not None, "a Sigstore signature is verified against its identity"
        identity, issuer = facts.sigstore_identity
        config = ["--trust-config", f"{VERIFY_DIR}/{TRUST_FILE['sigstore']}"] if facts.sigstore_trust_config else []
        return ["--identity", identity, "--identity-provider", issuer, *config]
    option = "--certificate-chain" if facts.method == "certificate" else "--key"
    return [option, f"{facts.signer}={VERIFY_DIR}/{TRUST_FILE[facts.method]}"]  # named as in the TrustPolicy


CACHE_WAIT = 600  # seconds a model server's init container waits for its model cache to serve


def verify_args(facts: WorkloadFacts, model_dir: str, via: str | None) -> list[str]:
    """`modelguard verify` fetching into model_dir from the source, or via the model cache (which needs no
    credentials or CAs: plain HTTP inside the cluster, the bytes verified here all the same)."""
    return [
        "verify",
        *trust_args(facts),
        "--signature",
        f"{VERIFY_DIR}/signature",
        "--format",
        facts.signature_format,
        "--expect-digest",
        facts.digest,
        "--source",
        facts.source,
        "--fetch-into",
        model_dir,
        *(["--via", via, "--wait", str(CACHE_WAIT)] if via else []),
        *(["--ca-bundle", f"{VERIFY_DIR}/ca.crt"] if facts.ca_bundle and not via else []),
        *(["--credentials", CREDENTIALS_DIR] if facts.credentials_secret and not via else []),
        *(
            ["--credentials-type", facts.credentials_type]
            if facts.credentials_secret and facts.credentials_type and not via
            else []
        ),
        *facts.inspection,
        model_dir,
    ]


def verify_container(
    facts: WorkloadFacts, name: str, model_dir: str, via: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The init container that fetches and verifies the model into the `model` volume, and the volumes it
    needs besides `model` and `tmp` (the verification ConfigMap; the source's credentials, never via the cache)."""
    assert facts.verification, "the verification ConfigMap is built first: its name depends on its content"
    mounts = [
        {"name": "model", "mountPath": model_dir},
        {"name": "verify", "mountPath": VERIFY_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": TMP},
    ]
    volumes: list[dict[str, Any]] = [{"name": "verify", "configMap": {"name": facts.verification}}]
    if facts.credentials_secret and not via:
        mounts.append({"name": "credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True})
        volumes.append({"name": "credentials", "secret": {"secretName": facts.credentials_secret}})
    container = {
        "name": name,
        "image": facts.operator_image,
        "args": verify_args(facts, model_dir, via),
        "volumeMounts": mounts,
        "securityContext": restricted(),
        "resources": {"requests": {"cpu": "500m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
    }
    return container, volumes


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def deployment(facts: WorkloadFacts) -> dict[str, Any]:
    """The model server pods: the init container fetches the model from the model cache (facts.cache_url) and
    verifies it; the gateway in front; no way out but to the cache (network.allow)."""
    assert facts.cache_url, "the model cache's Service is applied first: its address is in the init container"
    spec = facts.spec
    n = names(facts.name)
    model_dir = spec.runtime.model_mount_path
    pod_labels = {**labels(facts.name, "model-server"), **selector(facts.name)}
    init, init_volumes = verify_container(facts, "verify-model", model_dir, facts.cache_url)
    volumes: list[dict[str, Any]] = [
        {"name": "model", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        *init_volumes,
        {"name": "gateway-config", "configMap": {"name": n["gateway"]}},
        {"name": "gateway-tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    gateway_mounts = [
        {"name": "gateway-config", "mountPath": CONF_DIR, "readOnly": True},
        {"name": "gateway-tmp", "mountPath": TMP},
    ]
    if facts.spec.authentication is not None:
        volumes.append({"name": "gateway-keys", "secret": {"secretName": n["gateway-keys"], "defaultMode": 0o440}})
        gateway_mounts.append({"name": "gateway-keys", "mountPath": KEYS_DIR, "readOnly": True})
    server: dict[str, Any] = {
        "name": "model-server",
        "image": spec.runtime.image,
        "args": list(spec.runtime.args),
        "ports": [{"name": "model", "containerPort": spec.runtime.port, "protocol": "TCP"}],
        "volumeMounts": [
            {"name": "model", "mountPath": model_dir, "readOnly": True},
            {"name": "tmp", "mountPath": TMP},
        ],
        "securityContext": restricted(),
    }
    gateway_container: dict[str, Any] = {
        "name": "gateway",
        "image": facts.gateway_image,
        "args": ["nginx", "-g", "daemon off;", "-c", f"{CONF_DIR}/nginx.conf"],
        "ports": [
            {"name": "gateway", "containerPort": GATEWAY_PORT, "protocol": "TCP"},
            {"name": "status", "containerPort": STATUS_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "status"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "status"}, "periodSeconds": 20},
        "volumeMounts": gateway_mounts,
        "securityContext": restricted(),
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    }
    resources = {
        k: v for k, v in (("requests", spec.runtime.resources.requests), ("limits", spec.runtime.resources.limits)) if v
    }
    if resources:
        server["resources"] = resources
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**meta(facts, n["deployment"], "model-server"), "annotations": {DIGEST_ANNOTATION: facts.digest}},
        "spec": {
            "replicas": spec.replicas if facts.replicas is None else facts.replicas,
            "selector": {"matchLabels": selector(facts.name)},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {DIGEST_ANNOTATION: facts.digest, GATEWAY_HASH_ANNOTATION: facts.gateway_hash},
                },
                "spec": {
                    "serviceAccountName": spec.service_account_name or n["serviceaccount"],
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "initContainers": [init],
                    "containers": [gateway_container, server],
                    "volumes": volumes,
                    **scheduling(spec),
                },
            },
        },
    }


def _set(fields: dict[str, Any]) -> dict[str, Any]:
    """Without empty values: the API server drops them, and a desired "" would look like drift forever."""
    return {k: v for k, v in fields.items() if v not in ("", None, [])}


def scheduling(spec: AIDeploymentSpec) -> dict[str, Any]:
    """The pod fields of spec.scheduling (only those set), and always a required node affinity that keeps the
    model server off control-plane nodes (ADR 0020: never there, whatever the spec or the nodes' taints)."""
    s = spec.scheduling
    out: dict[str, Any] = {}
    if s.node_selector:
        out["nodeSelector"] = dict(s.node_selector)
    if s.tolerations:
        out["tolerations"] = [_set(t.wire()) for t in s.tolerations]
    required = [_set(r.wire()) for r in (s.node_affinity.required if s.node_affinity else [])]
    required += [{"key": key, "operator": "DoesNotExist"} for key in CONTROL_PLANE_LABELS]
    terms: dict[str, Any] = {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": required}]}
    }
    if s.node_affinity is not None and s.node_affinity.preferred:
        terms["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": 100, "preference": {"matchExpressions": [_set(r.wire()) for r in s.node_affinity.preferred]}}
        ]
    out["affinity"] = {"nodeAffinity": terms}
    if s.runtime_class_name:
        out["runtimeClassName"] = s.runtime_class_name
    if s.priority_class_name:
        out["priorityClassName"] = s.priority_class_name
    return out


def endpoint(name: str, namespace: str) -> str:
    """The URL clients in the cluster call: the Service (port 80) in front of the gateway."""
    return f"http://{names(name)['service']}.{namespace}.svc"


def service(facts: WorkloadFacts) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(facts, names(facts.name)["service"], "model-server"),
        "spec": {
            "type": "LoadBalancer" if facts.spec.access.exposure == "External" else "ClusterIP",
            "selector": selector(facts.name),
            "ports": [{"name": "http", "port": 80, "targetPort": "gateway", "protocol": "TCP"}],
        },
    }


def gateway_config(facts: WorkloadFacts, conf: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(facts, names(facts.name)["gateway"], "gateway"),
        "data": {"nginx.conf": conf, "model-card.json": facts.model_card},
    }


def gateway_keys(facts: WorkloadFacts, keys_map: str) -> dict[str, Any]:
    """The client key map (secret): only the gateway container mounts it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": meta(facts, names(facts.name)["gateway-keys"], "gateway"),
        "data": {"clients.map": base64.b64encode(keys_map.encode()).decode()},
    }


def inspection_args(formats: Sequence[str], allowed_globals: Sequence[str], refuse_pickles: bool) -> tuple[str, ...]:
    """The init containers' inspection, with the TrustPolicy's rules (spec.inspection)."""
    return (
        "--inspect",
        "--allow-formats",
        ",".join(formats),
        *(("--allow-globals", ",".join(allowed_globals)) if allowed_globals else ()),
        *(("--refuse-pickles",) if refuse_pickles else ()),
    )
