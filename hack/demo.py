"""`make demo`: ModelGuard's lifecycle against a local control plane, on real signed artifacts.

Starts etcd, kube-apiserver, controller-manager, scheduler and kwok on loopback (built from Go
modules, cached under ~/.cache/modelguard), installs the CRDs and the admission webhook, runs the
operator as a process, then: a publisher makes a key and signs a model with `modelguard sign`; the
example manifests are applied (with the demo's key and paths); the model verifies and rolls out;
a tampered copy is rejected with its reason; admission refuses what policy forbids; the init
container's command passes on the intact model and fails on the tampered one. Everything started is
stopped at the end; files stay in .demo/ for inspection.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness.controlplane import REPO, ControlPlane, free_port
from tests.harness.models import flip_byte, write_model
from tests.harness.nginx import call, echo_upstream, run_nginx
from tests.harness.operator import OperatorProcess, start_with_webhooks

from modelguard.api.aideployment import AIDeploymentSpec
from modelguard.builders import gateway
from modelguard.domain.audit import parse_log

DEMO = REPO / ".demo"
EXAMPLES = REPO / "manifests" / "examples"
BIN = Path(sys.executable).parent


def step(title: str) -> None:
    print(f"\n\033[1m==> {title}\033[0m", flush=True)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    print("$ " + " ".join(a if len(a) < 60 else "…" + a[-50:] for a in args))
    result = subprocess.run(list(args), capture_output=True, text=True, check=False)
    out = (result.stdout + result.stderr).strip()
    if out:
        print("  " + out.replace("\n", "\n  "))
    if check and result.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(args)}")
    return result


def get(plane: ControlPlane, kind: str, namespace: str, name: str) -> dict[str, Any]:
    where = ("-n", namespace) if namespace else ()  # "": cluster-scoped
    return dict(json.loads(plane.kubectl("get", kind, name, *where, "-o", "json").stdout))


def cond(body: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in (body.get("status") or {}).get("conditions", []) if c["type"] == type_), {})


def wait(
    plane: ControlPlane, kind: str, namespace: str, name: str, type_: str, status: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = get(plane, kind, namespace, name)
        c = cond(body, type_)
        if c.get("status") == status and c.get("observedGeneration") == body["metadata"]["generation"]:
            return body
        time.sleep(0.3)
    raise SystemExit(f"{kind}/{name} did not reach {type_}={status} in {timeout}s; see {DEMO / 'operator.log'}")


def show(plane: ControlPlane, kind: str, namespace: str, name: str) -> None:
    body = get(plane, kind, namespace, name)
    print(f"{kind}/{name}:")
    for c in body.get("status", {}).get("conditions", []):
        print(f"  {c['type']:<14} {c['status']:<8} {c['reason']:<22} {c.get('message', '')[:110]}")


def example(name: str, edit: Any) -> str:
    doc = yaml.safe_load((EXAMPLES / name).read_text())
    edit(doc)
    return json.dumps(doc)


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    models = DEMO / "models"
    step("Starting a local control plane (etcd 3.6, Kubernetes 1.34, kwok fake node)")
    plane = ControlPlane(DEMO / "cluster")
    operator: OperatorProcess | None = None
    try:
        plane.start()
        print(f"up in {plane.start_seconds:.1f}s at {plane.url}; export KUBECONFIG={plane.kubeconfig}")
        plane.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        plane.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")

        step("A publisher makes a key and signs a model (OpenSSF model signing format)")
        run(str(BIN / "modelguard"), "keygen", "--out", str(DEMO / "keys"))
        model_dir = write_model(models / "fraud-scorer-v3")
        run(
            str(BIN / "modelguard"),
            "sign",
            "--key",
            str(DEMO / "keys" / "private.pem"),
            "--signature",
            str(models / "fraud-scorer-v3.sig"),
            str(model_dir),
        )
        tampered = models / "fraud-scorer-v3-tampered"
        shutil.copytree(model_dir, tampered)
        shutil.copy(models / "fraud-scorer-v3.sig", models / "fraud-scorer-v3-tampered.sig")
        flip_byte(tampered / "weights" / "model-00001.safetensors", 4096)
        print(f"  copied it to {tampered.name} and flipped one bit of weights/model-00001.safetensors")

        step("Running the operator with its admission webhook (fail closed, timeout 5 s)")
        operator = start_with_webhooks(plane, DEMO, "modelguard", ["--file-root", str(models)])
        print(f"  operator pid {operator.popen.pid if operator.popen else '?'}, log .demo/operator.log")

        step("Applying manifests/examples/ (with the demo's key and file:// paths)")
        public = (DEMO / "keys" / "public.pem").read_text()

        def policy(doc: dict[str, Any]) -> None:
            doc["spec"]["keys"][0]["publicKey"] = public
            doc["spec"]["allowedSources"].append(f"file://{models}/")

        today = time.strftime("%Y-%m-%d", time.gmtime())

        def model(doc: dict[str, Any]) -> None:
            doc["spec"]["source"] = {"uri": f"file://{model_dir}"}
            doc["spec"]["signature"]["bundleUri"] = f"file://{models}/fraud-scorer-v3.sig"
            for document in ("threatModel", "riskAssessment"):  # reviewed within the policy's 365 days
                doc["spec"]["assurance"][document]["reviewedAt"] = today

        for name, edit in (
            ("00-namespace.yaml", lambda d: None),
            ("10-trustpolicy.yaml", policy),
            ("20-aimodel.yaml", model),
            ("25-api-keys.yaml", lambda d: None),
            ("30-aideployment.yaml", lambda d: None),
        ):
            print("  " + plane.kubectl("apply", "-f", "-", stdin=example(name, edit)).stdout.strip())

        step("The model verifies and rolls out, pinned to its digest")
        body = wait(plane, "aimodel", "risk", "fraud-scorer-v3", "Verified", "True")
        wait(plane, "aideployment", "risk", "fraud-scorer", "Ready", "True")
        verified = body["status"]["verified"]
        print(
            f"verified {verified['digest']}\n  signer {verified['signer']}, {verified['files']} files, "
            f"{verified['bytes']} bytes in {verified['durationSeconds']} s"
        )
        print(plane.kubectl("get", "trustpolicies,aimodels,aideployments", "-A").stdout)
        show(plane, "aimodel", "risk", "fraud-scorer-v3")
        show(plane, "aideployment", "risk", "fraud-scorer")
        print(
            plane.kubectl(
                "get",
                "deployment,service,configmap,serviceaccount",
                "-n",
                "risk",
                "-l",
                "app.kubernetes.io/managed-by=modelguard",
            ).stdout
        )
        deployment = get(plane, "deployment", "risk", "fraud-scorer")
        print(
            "init container: modelguard "
            + " ".join(deployment["spec"]["template"]["spec"]["initContainers"][0]["args"])
        )
        cache_pod = get(plane, "deployment", "risk", "fraud-scorer-model-cache")["spec"]["template"]["spec"]
        print("model cache init container: modelguard " + " ".join(cache_pod["initContainers"][0]["args"]))

        step("The red team reports on the verified digest; its result is recorded beside the model")
        red_team = {
            "kind": "RedTeam",
            "modelDigest": verified["digest"],  # counts for these bytes only: a new version needs its own
            "uri": "https://docs.example/risk/fraud-scorer/red-team-v3.pdf",
            "digest": "sha256:" + "4e" * 32,
            "completedAt": today,
            "assessor": "red-team@example.com",
            "result": "PassedWithFindings",
            "covers": ["PromptInjection", "ModelInversion", "TrainingDataExtraction", "AdversarialInputs"],
        }
        patch = {"spec": {"assurance": {"evaluations": [red_team]}}}
        plane.kubectl("patch", "aimodel", "fraud-scorer-v3", "-n", "risk", "--type=merge", "-p", json.dumps(patch))
        documented = wait(plane, "aimodel", "risk", "fraud-scorer-v3", "Documented", "True")
        said = cond(documented, "Documented")["message"]
        print(f"  RedTeam of {verified['digest'][:19]}...: {red_team['result']}; {said}")

        step("The policy around the workload: default deny, declared clients to the gateway only, no API token")
        print(plane.kubectl("get", "networkpolicies", "-n", "risk").stdout)
        allow = get(plane, "networkpolicy", "risk", "fraud-scorer-allow")["spec"]
        for rule in allow.get("ingress", []):
            peers = ", ".join(json.dumps(p, separators=(",", ":")) for p in rule["from"])
            print(f"  ingress to port {rule['ports'][0]['port']} from {peers}")
        for rule in allow.get("egress", []):
            peers = ", ".join(json.dumps(p, separators=(",", ":")) for p in rule["to"])
            print(f"  egress to port {rule['ports'][0]['port']} of {peers} (its model cache, and nothing else)")
        cache = get(plane, "networkpolicy", "risk", "fraud-scorer-model-cache")["spec"]
        declared = len(cache.get("egress") or [])  # the API server drops an empty list
        print(f"  model cache (the one pod that fetches from the source): {declared} egress rules declared")
        pod = deployment["spec"]["template"]["spec"]
        print(
            f"  pod: automountServiceAccountToken={pod['automountServiceAccountToken']}, runAsNonRoot="
            f"{pod['securityContext']['runAsNonRoot']}, containers: "
            + ", ".join(
                f"{c['name']} (readOnlyRootFilesystem={c['securityContext']['readOnlyRootFilesystem']})"
                for c in pod["containers"]
            )
        )
        show(plane, "aideployment", "risk", "fraud-scorer")

        step("The gateway's generated nginx configuration, run in a real nginx: a request without a key is refused")
        gateway_data = get(plane, "configmap", "risk", "fraud-scorer-gateway")["data"]
        keys = base64.b64decode(get(plane, "secret", "risk", "fraud-scorer-gateway-keys")["data"]["clients.map"])
        gw_dir = DEMO / "gateway"
        gw_dir.mkdir(parents=True, exist_ok=True)
        (gw_dir / "model-card.json").write_text(gateway_data["model-card.json"])
        port, status_port, upstream = free_port(), free_port(), free_port()
        spec = AIDeploymentSpec.model_validate(get(plane, "aideployment", "risk", "fraud-scorer")["spec"])
        # the same builder as the operator's, with local ports and paths instead of the pod's
        cfg = gateway.config_for(
            spec,
            authenticated=True,
            upstream_port=upstream,
            listen="127.0.0.1",
            port=port,
            status_port=status_port,
            keys_file=str(gw_dir / "clients.map"),
            model_card_file=str(gw_dir / "model-card.json"),
            temp_dir=str(gw_dir / "t"),
        )
        local = gateway.nginx_conf(cfg)
        assert gateway.nginx_conf(gateway.config_for(spec, authenticated=True)) == gateway_data["nginx.conf"]
        key_value = yaml.safe_load((EXAMPLES / "25-api-keys.yaml").read_text())["stringData"]["payments"]
        with (
            echo_upstream(upstream),
            run_nginx(gw_dir, local, port, status_port, keys.decode(), gw_dir / "clients.map") as gw,
        ):
            print(f"  POST /v1/score without a key      -> {call(gw.url + '/v1/score', data=b'{}')[0]}")
            wrong = {"Authorization": "Bearer not-a-real-key-0000000000"}
            print(f"  POST /v1/score with a wrong key   -> {call(gw.url + '/v1/score', wrong, b'{}')[0]}")
            good = {"Authorization": f"Bearer {key_value}"}
            status, body = call(gw.url + "/v1/score", good, b"{}")
            print(
                f"  POST /v1/score as client payments -> {status}, upstream saw client={body.get('client')!r} "
                f"and no credentials: {body.get('authorization') is None}"
            )
            burst = [call(gw.url + "/v1/score", good, b"{}")[0] for _ in range(60)]
            print(
                f"  60 more requests at once          -> {burst.count(200)} x 200, {burst.count(429)} x 429 "
                "(20/s, burst 40, per client)"
            )
            print(f"  POST with a 2 MiB body            -> {call(gw.url + '/v1/score', good, b'x' * 2_097_152)[0]}")

        step("A tampered copy with the same signature is rejected")
        tampered_model = json.loads(example("20-aimodel.yaml", model))
        tampered_model["metadata"]["name"] = "fraud-scorer-v3-tampered"
        tampered_model["spec"]["source"]["uri"] = f"file://{tampered}"
        tampered_model["spec"]["signature"]["bundleUri"] = f"file://{models}/fraud-scorer-v3-tampered.sig"
        plane.kubectl("apply", "-f", "-", stdin=json.dumps(tampered_model))
        wait(plane, "aimodel", "risk", "fraud-scorer-v3-tampered", "Verified", "False")
        show(plane, "aimodel", "risk", "fraud-scorer-v3-tampered")

        step("Admission refuses what policy forbids")
        serving = yaml.safe_load((EXAMPLES / "30-aideployment.yaml").read_text())
        serving["metadata"]["name"] = "tampered-serving"
        serving["spec"]["modelRef"]["name"] = "fraud-scorer-v3-tampered"
        result = plane.kubectl("apply", "-f", "-", stdin=json.dumps(serving), check=False)
        print("  AIDeployment of the tampered model: " + result.stderr.strip().splitlines()[-1])
        outside = json.loads(example("20-aimodel.yaml", model))
        outside["metadata"]["name"] = "from-the-internet"
        outside["spec"]["source"]["uri"] = "https://models.example.com/fraud-scorer"
        result = plane.kubectl("apply", "-f", "-", stdin=json.dumps(outside), check=False)
        print("  AIModel from an unlisted source: " + result.stderr.strip().splitlines()[-1])

        step("Maintenance scan: someone alters the served model's bytes; a scan finds it and quarantines")
        flip_byte(model_dir / "weights" / "model-00002.safetensors", 1000)
        print("  flipped one bit of weights/model-00002.safetensors in the served model, then:")
        print(
            "  "
            + plane.kubectl(
                "annotate", "aimodel", "fraud-scorer-v3", "-n", "risk", "modelguard.io/scan-now=demo-1"
            ).stdout.strip()
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = get(plane, "aimodel", "risk", "fraud-scorer-v3")
            if ((body.get("status") or {}).get("lastScan") or {}).get("token") == "demo-1":
                break
            time.sleep(0.3)
        last = body["status"]["lastScan"]
        print(
            f"  scan {last['result']}: {last['critical']} critical, {last['high']} high -> ScanReport {last['report']}"
        )
        for finding in get(plane, "scanreport", "risk", last["report"])["spec"]["findings"]:
            print(
                f"    [{finding['severity']}] {finding['check']}: {finding['message']} "
                f"(TS 104 223 {', '.join(finding['provisions'])})"
            )
        wait(plane, "aideployment", "risk", "fraud-scorer", "Quarantined", "True")
        show(plane, "aideployment", "risk", "fraud-scorer")
        replicas = get(plane, "deployment", "risk", "fraud-scorer")["spec"]["replicas"]
        ingress = get(plane, "networkpolicy", "risk", "fraud-scorer-allow")["spec"].get("ingress") or []
        print(f"  workload replicas: {replicas}; allowed ingress rules: {len(ingress)}")
        flip_byte(model_dir / "weights" / "model-00002.safetensors", 1000)  # put the bytes back for the last step

        step("What every pod's init container runs: `modelguard verify` on the bytes it will load")
        args = [
            "--key",
            str(DEMO / "keys" / "public.pem"),
            "--signature",
            str(models / "fraud-scorer-v3.sig"),
            "--expect-digest",
            verified["digest"],
            "--quiet",
        ]
        run(str(BIN / "modelguard"), "verify", *args, str(model_dir))
        run(str(BIN / "modelguard"), "verify", *args, str(tampered), check=False)
        step("Compliance report: the evidence in the cluster mapped to the provisions of ETSI TS 104 223")
        cli_env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
        done = subprocess.run(
            [str(BIN / "modelguard"), "report", "--namespace", "risk", "--output-dir", str(DEMO / "report")],
            capture_output=True,
            text=True,
            check=False,
            env=cli_env,
        )
        report_out = done.stderr.strip().replace("\n", "\n  ")
        print(f"$ modelguard report --namespace risk --output-dir .demo/report\n  {report_out}")
        document = json.loads((DEMO / "report" / "report.json").read_text())
        for item in document["provisions"]:
            if item["id"] in ("5.1.2-3", "5.1.3-1", "5.2.1-2", "5.2.2-5", "5.2.3-1", "5.2.5-1", "5.4.1-1"):
                print(f"  {item['id']:<9} {item['status']:<15} {item['note'][:100]}")
        kept = {
            "apiVersion": "modelguard.io/v1alpha1",
            "kind": "ComplianceReport",
            "metadata": {"name": "risk"},
            "spec": {"namespace": "risk", "minimumGapSeconds": 10},
        }
        plane.kubectl("apply", "-f", "-", stdin=json.dumps(kept))
        wait(plane, "compliancereport", "", "risk", "Ready", "True")
        print("the same assessment kept current by the operator (history and metrics per phase):")
        print(plane.kubectl("get", "compliancereports").stdout)

        step("End of life: deleting the model decommissions it and leaves a signed certificate")
        plane.kubectl("create", "secret", "generic", "fraud-dek", "-n", "risk", "--from-literal=key=demo-data-key")
        plane.kubectl(
            "patch",
            "aimodel",
            "fraud-scorer-v3",
            "-n",
            "risk",
            "--type=merge",
            "-p",
            json.dumps(
                {
                    "spec": {
                        "endOfLife": {
                            "encryptionKeys": [{"name": "fraud-dek"}],
                            "dataRefs": [{"kind": "Secret", "name": "fraud-scorer-api-keys"}],
                        }
                    }
                }
            ),
        )
        uid = get(plane, "aimodel", "risk", "fraud-scorer-v3")["metadata"]["uid"]
        print(
            "  "
            + plane.kubectl(
                "delete", "aimodel", "fraud-scorer-v3", "-n", "risk", "--wait=true", "--timeout=90s"
            ).stdout.strip()
        )
        certs = json.loads(
            plane.kubectl(
                "get", "decommissioncertificates", "-l", f"modelguard.io/model-uid={uid}", "-o", "json"
            ).stdout
        )["items"]
        cert = certs[0]
        print(plane.kubectl("get", "decommissioncertificates").stdout)
        for action in cert["spec"]["actions"]:
            print(
                f"  {action['step']:<16} {action['method']:<14} {action['kind']:<14} {action['result']:<11} "
                f"{action['name']}"
            )
        left = plane.kubectl(
            "get",
            "aideployment,deployment,service,secret,networkpolicy",
            "-n",
            "risk",
            "-l",
            "app.kubernetes.io/managed-by=modelguard",
            "-o",
            "name",
        ).stdout.strip()
        print(f"  managed objects left in namespace risk: {left or 'none'}")
        env_cli = [str(BIN / "modelguard"), "certificate", "verify", "--name", cert["metadata"]["name"]]
        result = subprocess.run(
            env_cli,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "KUBECONFIG": str(plane.kubeconfig)},
        )
        print(f"$ modelguard certificate verify --name {cert['metadata']['name']}\n  {result.stdout.strip()}")

        step("Traceability: every change (with its actor) and every decision is in a verifiable audit trail")
        records = parse_log((DEMO / "operator.log").read_text().splitlines())
        for record in {r["seq"]: r for r in records}.values():
            obj = record["object"]
            where = f"{obj['namespace']}/{obj['name']}" if obj["namespace"] else obj["name"]
            print(
                f"  {record['seq']:>3} {record['type']:<8} {record['action']:<14} {obj['kind']:<14} "
                f"{where:<32} {record['actor']['username']}"
            )
        done = subprocess.run(
            [str(BIN / "modelguard"), "audit", "verify", str(DEMO / "operator.log")],
            capture_output=True,
            text=True,
            check=False,
            env=cli_env,
        )
        print(f"$ modelguard audit verify .demo/operator.log\n  {done.stdout.strip()}")
        print("\nDemo finished: the control plane and operator are stopped; files stay in .demo/.")
        return 0
    finally:
        if operator is not None:
            operator.stop()
        plane.stop()


if __name__ == "__main__":
    sys.exit(main())
