"""Fixtures of the end-to-end suite: any cluster with ModelGuard installed (KUBECONFIG), real pods.

The suite brings its own model source: a pod serving signed models over https (the model-server image's
`files` mode) with a certificate from the CA the operator was installed to trust. `make e2e-local` and
`make e2e-kind` pass the image and the CA in the environment:
  MODELGUARD_E2E_MODEL_SERVER_IMAGE  the model-server image (hack/images), pinned by digest
  MODELGUARD_E2E_SOURCE_CA           path stem of the source CA (.crt and .key), trusted by the operator
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness.certs import LocalCA
from tests.harness.models import KeyPair, sign, write_model

GROUP = "modelguard.io/v1alpha1"
KEY_ID = "e2e-publisher"
KEYLESS_VECTOR = "v1.1.0-sigstore"  # signed by KEYLESS_SIGNER, issuer KEYLESS_ISSUER
KEYLESS_SIGNER = "stefanb@us.ibm.com"
KEYLESS_ISSUER = "https://sigstore.verify.ibm.com/oauth2"
SOURCE_PORT = 443  # the operator's own NetworkPolicy allows egress to 443, 6443 and 5000


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise AssertionError(f"{name} is not set: run the suite through `make e2e-local` or `make e2e-kind`")
    return value


def kubectl(
    *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["kubectl", *args], input=stdin, capture_output=True, text=True, check=False, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result


def apply(obj: dict[str, Any], namespace: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    args = ["apply", "--server-side", "--force-conflicts", "-f", "-"] + (["-n", namespace] if namespace else [])
    return kubectl(*args, stdin=json.dumps(obj), check=check)


def get(kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    args = ["get", kind, name, "-o", "json"] + (["-n", namespace] if namespace else [])
    out = kubectl(*args, check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def conditions(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions", [])}


def eventually(check: Callable[[], Any], timeout: float = 120, interval: float = 1.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}; last: {last!r}")


def wait_condition(
    kind: str, name: str, namespace: str, ctype: str, status: str, timeout: float = 180
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = get(kind, name, namespace)
        cond = conditions(obj).get(ctype)
        return obj if cond is not None and cond["status"] == status else None

    try:
        return eventually(check, timeout, what=f"{kind}/{name} {ctype}={status}")  # type: ignore[no-any-return]
    except AssertionError:
        obj = get(kind, name, namespace)
        raise AssertionError(f"{kind}/{name}: {ctype} never {status}; conditions: {conditions(obj)}") from None


def operator_namespace() -> str:
    out = kubectl("get", "deployment", "-A", "-l", "app.kubernetes.io/name=modelguard", "-o", "json").stdout
    return str(json.loads(out)["items"][0]["metadata"]["namespace"])


ENABLED = "modelguard.io/enabled"  # namespaces ModelGuard may deploy into (the chart's restrictWrites)


def new_namespace(prefix: str, labels: dict[str, str] | None = None) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    for k, v in {"pod-security.kubernetes.io/enforce": "restricted", **(labels or {})}.items():
        kubectl("label", "namespace", name, f"{k}={v}", "--overwrite")
    return name


def pod_ip(namespace: str, selector: str) -> str:
    def ip() -> str | None:
        out = kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout
        pods = [
            p for p in json.loads(out)["items"] if p["status"].get("podIP") and p["status"].get("phase") == "Running"
        ]
        return pods[0]["status"]["podIP"] if pods else None

    return str(eventually(ip, 120, what=f"a running pod {selector} in {namespace}"))


def restricted() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


@dataclass
class Source:
    """A pod serving signed models over https; tests can change the bytes it serves (exec)."""

    namespace: str
    ip: str  # the Service's address: what URIs and the certificate name
    pod_ip: str  # where connections land after kube-proxy (what NetworkPolicies see)
    key: KeyPair
    files: dict[str, dict[str, str]]  # model -> file -> sha256:hex

    def uri(self, path: str) -> str:
        return f"https://{self.ip}/{path}"

    @property
    def prefix(self) -> str:
        return f"https://{self.ip}/"

    def pod(self) -> str:
        out = kubectl("get", "pods", "-n", self.namespace, "-l", "app=model-source", "-o", "name").stdout.split()
        return out[0]

    def write(self, path: str, data: bytes) -> None:
        """Replace a file the source serves (the bytes change at the source)."""
        code = f"import sys; open('/srv/{path}', 'wb').write(bytes.fromhex('{data.hex()}'))"
        kubectl("exec", "-n", self.namespace, self.pod(), "--", "python3", "-c", code)


def client_pod(namespace: str, name: str = "client", labels: dict[str, str] | None = None) -> str:
    """A long-running pod with python3 to call services from inside the cluster."""
    image = env("MODELGUARD_E2E_MODEL_SERVER_IMAGE")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name, **(labels or {})}},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "client",
                    "image": image,
                    "command": ["python3", "-c", "import time; time.sleep(86400)"],
                    "securityContext": restricted(),
                }
            ],
            "terminationGracePeriodSeconds": 0,
        },
    }
    apply(pod)
    kubectl("wait", "--for=condition=Ready", f"pod/{name}", "-n", namespace, "--timeout=120s")
    return name


HTTP_SCRIPT = """
import json, sys, urllib.request, urllib.error
url, method, headers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
size, count = int(sys.argv[4]), int(sys.argv[5])
def call():
    req = urllib.request.Request(url, method=method, headers=headers, data=(b"x" * size) if size else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return {"status": r.status, "body": r.read().decode(errors="replace")}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read().decode(errors="replace")}
    except Exception as e:
        return {"status": 0, "error": repr(e)}
answers = [call() for _ in range(count)]  # back to back: a bounded burst
print(json.dumps(answers if count > 1 else answers[0]))
"""


def http_from(
    namespace: str,
    pod: str,
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    size: int = 0,
    container: str | None = None,
    count: int = 1,
) -> Any:
    """One request (or `count` back to back) from a pod; status 0 when no connection could be made."""
    args = ["exec", "-n", namespace, pod] + (["-c", container] if container else [])
    out = kubectl(
        *args,
        "--",
        "python3",
        "-c",
        HTTP_SCRIPT,
        url,
        method,
        json.dumps(headers or {}),
        str(size),
        str(count),
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


CONNECT_SCRIPT = """
import socket, sys
s = socket.socket(); s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
except Exception as e:
    print("failed", type(e).__name__)
"""


def can_connect(
    namespace: str, pod: str, host: str, port: int, container: str | None = None, timeout: float = 3
) -> bool:
    args = ["exec", "-n", namespace, pod] + (["-c", container] if container else [])
    out = kubectl(*args, "--", "python3", "-c", CONNECT_SCRIPT, host, str(port), str(timeout), timeout=60)
    return out.stdout.strip().splitlines()[-1] == "connected"


def _source_pod(namespace: str, image: str) -> list[dict[str, Any]]:
    meta = {"namespace": namespace}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "model-source", **meta},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "model-source"}},
                "template": {
                    "metadata": {"labels": {"app": "model-source"}},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": {
                            "runAsNonRoot": True,
                            "seccompProfile": {"type": "RuntimeDefault"},
                            "fsGroup": 65532,
                            # binds 443 without a capability (a namespaced, safe sysctl)
                            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
                        },
                        "initContainers": [
                            {
                                "name": "unpack",
                                "image": image,
                                "command": [
                                    "python3",
                                    "-c",
                                    "import json,pathlib; m=json.load(open('/content/manifest.json'));"
                                    "[pathlib.Path('/srv',d).parent.mkdir(parents=True,exist_ok=True) or "
                                    "pathlib.Path('/srv',d).write_bytes(pathlib.Path('/content',k).read_bytes()) "
                                    "for k,d in m.items()]",
                                ],
                                "volumeMounts": [
                                    {"name": "content", "mountPath": "/content"},
                                    {"name": "srv", "mountPath": "/srv"},
                                ],
                                "securityContext": restricted(),
                            }
                        ],
                        "containers": [
                            {
                                "name": "files",
                                "image": image,
                                "args": [
                                    "files",
                                    "/srv",
                                    "--cert",
                                    "/tls/tls.crt",
                                    "--key",
                                    "/tls/tls.key",
                                    "--port",
                                    str(SOURCE_PORT),
                                ],
                                "volumeMounts": [
                                    {"name": "srv", "mountPath": "/srv"},
                                    {"name": "tls", "mountPath": "/tls", "readOnly": True},
                                ],
                                "securityContext": restricted(),
                            }
                        ],
                        "volumes": [
                            {"name": "content", "configMap": {"name": "model-content"}},
                            {"name": "srv", "emptyDir": {}},
                            {"name": "tls", "secret": {"secretName": "model-source-tls"}},
                        ],
                    },
                },
            },
        },
    ]


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """Signed models `m1` and `m2` (a key) and `k1` (Sigstore keyless) served over https by a pod in a namespace
    of its own."""
    image = env("MODELGUARD_E2E_MODEL_SERVER_IMAGE")
    stem = Path(env("MODELGUARD_E2E_SOURCE_CA"))
    ca = LocalCA.load(stem.parent, stem.name)
    namespace = new_namespace("e2e-source", {"pod-security.kubernetes.io/enforce": "baseline"})
    root = tmp_path_factory.mktemp("models")
    key = KeyPair.generate()
    content: dict[str, bytes] = {}
    manifest: dict[str, str] = {}
    files: dict[str, dict[str, str]] = {}
    for name in ("m1", "m2"):
        model = write_model(root / name, {"weights.bin": 4096, "config.json": 256}, seed=len(name) + ord(name[-1]))
        (root / f"{name}.sig").write_bytes(sign(model, key))
        files[name] = {}
        for path in sorted(p for p in model.rglob("*") if p.is_file()):
            rel = path.relative_to(model).as_posix()
            data = path.read_bytes()
            files[name][rel] = "sha256:" + hashlib.sha256(data).hexdigest()
            k = f"{name}-{len(manifest)}"
            content[k], manifest[k] = data, f"{name}/{rel}"
        k = f"{name}-sig"
        content[k], manifest[k] = (root / f"{name}.sig").read_bytes(), f"{name}.sig"
    # `k1`: a real model signed keyless with the Sigstore public-good instance (model_signing's test vector)
    keyless = Path(__file__).resolve().parents[1] / "tests" / "data" / "model_signing_vectors" / KEYLESS_VECTOR
    files["k1"] = {}
    for path in sorted(p for p in keyless.iterdir() if p.is_file() and p.name not in ("model.sig", "ignore-me")):
        data = path.read_bytes()
        files["k1"][path.name] = "sha256:" + hashlib.sha256(data).hexdigest()
        k = f"k1-{len(manifest)}"
        content[k], manifest[k] = data, f"k1/{path.name}"
    content["k1-sig"], manifest["k1-sig"] = (keyless / "model.sig").read_bytes(), "k1.sig"
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "model-source", "namespace": namespace},
        "spec": {"selector": {"app": "model-source"}, "ports": [{"port": SOURCE_PORT, "targetPort": SOURCE_PORT}]},
    }
    apply(service)
    cluster_ip = kubectl("get", "service", "model-source", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "model-content", "namespace": namespace},
        "data": {"manifest.json": json.dumps(manifest)},
        "binaryData": {k: base64.b64encode(v).decode() for k, v in content.items()},
    }
    apply(cm)
    cert, tls_key = ca.issue("model-source", hosts=(cluster_ip,))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "model-source-tls", "namespace": namespace},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert.decode(), "tls.key": tls_key.decode()},
    }
    apply(secret)
    for obj in _source_pod(namespace, image):
        apply(obj)
    src = Source(namespace, cluster_ip, pod_ip(namespace, "app=model-source"), key, files)

    def serving() -> bool:
        probe = subprocess.run(
            [
                "python3",
                "-c",
                "import ssl,socket,sys; c=ssl.create_default_context(cafile=sys.argv[2]);"
                "s=c.wrap_socket(socket.create_connection((sys.argv[1],443),timeout=3),server_hostname=sys.argv[1]);print('ok')",
                src.ip,
                str(stem) + ".crt",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return probe.stdout.strip() == "ok"

    eventually(serving, 120, 2, "the model source to serve with its certificate")
    yield src
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def trust_policy(name: str, namespace: str, src: Source, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "TrustPolicy",
        "metadata": {"name": name},
        "spec": {
            "keys": [{"id": KEY_ID, "publicKey": src.key.public_pem.decode()}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "allowedSources": [src.prefix],
            **spec,
        },
    }


def ai_model(name: str, src: Source, model: str, policy: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "AIModel",
        "metadata": {"name": name},
        "spec": {
            "version": "1.0.0",
            "source": {"uri": src.uri(model + "/")},
            "signature": {"bundleUri": src.uri(model + ".sig")},
            "trustPolicy": policy,
            "card": {"owner": "e2e@example.com", "intendedUse": "end-to-end tests"},
            **spec,
        },
    }


def ai_deployment(name: str, model: str, src: Source, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "AIDeployment",
        "metadata": {"name": name},
        "spec": {
            "modelRef": {"name": model},
            "replicas": 1,
            "runtime": {
                "image": env("MODELGUARD_E2E_MODEL_SERVER_IMAGE"),
                "args": ["serve", "/models", "--name", model],
            },
            # the model cache fetches the model from the source pod: the only declared egress (the model
            # servers fetch from the cache and reach nothing else)
            "access": {"egress": [{"cidr": f"{src.pod_ip}/32", "ports": [SOURCE_PORT]}]},
            **spec,
        },
    }
