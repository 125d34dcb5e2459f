"""The audit trail on the real control plane: actors from admission, old/new hashes (system prompts too),
operator decisions, `modelguard audit verify` against the signed checkpoint, tampering and gaps caught,
nothing lost across a restart, and the HTTP sink."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from modelguard.domain.audit import content_hash, parse_log, record_hash
from tests.harness.audit import cli, find, operator_logs, records
from tests.harness.client import KubeTestClient, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane, free_port, grant
from tests.harness.models import KeyPair
from tests.harness.operator import OPERATOR_NAMESPACE, OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

KEY = KeyPair.generate()


@pytest.fixture
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp()


def as_user(cluster: ControlPlane, user: str, namespace: str, obj: dict[str, Any]) -> Any:
    return cluster.kubectl("apply", "-n", namespace, "--as", user, "-f", "-", stdin=json.dumps(obj), check=False)


def prompt(cluster: ControlPlane, namespace: str, name: str, text: str, immutable: bool = True) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"system": text},
        "immutable": immutable,
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(cm))


def verify_logs(cluster: ControlPlane, base: Path, tmp_path: Path) -> str:
    """`modelguard audit verify` over every operator log; waits out records printed meanwhile."""

    def attempt() -> str | None:
        result = cli(cluster, "audit", "verify", *map(str, operator_logs(base)))
        return result.stdout.splitlines()[-1] if result.returncode == 0 else None

    return eventually(attempt, timeout=30, what="audit verify to pass")


def test_changes_and_decisions_are_audited_with_their_actors(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    base: Path,
    tmp_path: Path,
) -> None:
    grant(cluster, namespace, "alice", ["aimodels", "aideployments"])
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    pub = publish(models_root, namespace, "m", KEY)
    assert as_user(cluster, "alice", namespace, model("m", pub.source, pub.bundle, name)).returncode == 0
    prompt(cluster, namespace, "prompt-v1", "You are a helpful assistant.")
    prompt(cluster, namespace, "prompt-v2", "You are a terse assistant.")
    prompt(cluster, namespace, "prompt-live", "editable in place", immutable=False)

    mutable = ai_deployment("svc", "m", systemPrompt={"name": "prompt-live", "key": "system"})
    refused = as_user(cluster, "alice", namespace, mutable)  # a prompt she may not read (issue 27, ADR 0020)
    assert refused.returncode != 0 and "alice may not get configmaps 'prompt-live'" in refused.stderr
    reader = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "prompts"}}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({**role, "rules": [reader]}))
    cluster.kubectl("create", "rolebinding", "prompts", "-n", namespace, "--role=prompts", "--user=alice")
    refused = as_user(cluster, "alice", namespace, mutable)
    assert refused.returncode != 0 and "must be immutable" in refused.stderr
    created = as_user(
        cluster, "alice", namespace, ai_deployment("svc", "m", systemPrompt={"name": "prompt-v1", "key": "system"})
    )
    assert created.returncode == 0, created.stderr
    verified = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True")
    digest = verified["status"]["verified"]["digest"]
    eventually(lambda: api.get("aideployments", namespace, "svc").get("status", {}).get("servedDigest") == digest)
    changed = cluster.kubectl(
        "patch", "aideployment", "svc", "-n", namespace, "--as", "alice", "--type", "merge",
        "-p", json.dumps({"spec": {"systemPrompt": {"name": "prompt-v2", "key": "system"}}}),
        check=False,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr

    def updated() -> list[dict[str, Any]]:
        return find(records(base), kind="AIDeployment", namespace=namespace, name="svc", action="UPDATE")

    (update,) = eventually(updated, what="the prompt change's audit record")
    log = records(base)
    (model_created,) = find(log, kind="AIModel", namespace=namespace, name="m", action="CREATE")
    assert model_created["actor"]["username"] == "alice" and model_created["type"] == "Change"
    assert model_created["oldHash"] is None
    assert model_created["newHash"] == content_hash(api.get("aimodels", namespace, "m")["spec"])
    (decided,) = find(log, kind="AIModel", namespace=namespace, name="m", action="Verified")
    assert decided["type"] == "Decision" and decided["newHash"] == digest
    assert decided["actor"]["username"] == "system:modelguard-operator"
    (deployment_created,) = find(log, kind="AIDeployment", namespace=namespace, name="svc", action="CREATE")
    assert deployment_created["actor"]["username"] == "alice"
    assert deployment_created["details"]["systemPrompt"] == content_hash("You are a helpful assistant.")
    assert update["actor"]["username"] == "alice"
    assert update["details"]["systemPromptBefore"] == content_hash("You are a helpful assistant.")
    assert update["details"]["systemPrompt"] == content_hash("You are a terse assistant.")
    assert update["oldHash"] == deployment_created["newHash"] != update["newHash"]
    assert update["newHash"] == content_hash(api.get("aideployments", namespace, "svc")["spec"])
    (rolled,) = find(log, kind="AIDeployment", namespace=namespace, name="svc", action="RolledOut")
    assert rolled["newHash"] == digest and rolled["seq"] > deployment_created["seq"]
    (policy_created,) = find(log, kind="TrustPolicy", name=name, action="CREATE")
    assert policy_created["actor"]["username"] not in ("", "alice")

    assert as_user(cluster, "alice", namespace, ai_deployment("gone", "m")).returncode == 0
    deleted = cluster.kubectl("delete", "aideployment", "gone", "-n", namespace, "--as", "alice", check=False)
    assert deleted.returncode == 0, deleted.stderr
    api.delete("trustpolicies", None, name)
    eventually(lambda: find(records(base), kind="TrustPolicy", name=name, action="DELETE"), what="policy deletion")
    gone = find(records(base), kind="AIDeployment", namespace=namespace, name="gone", action="DELETE")
    assert gone  # the API server may admit one deletion twice (at-least-once)
    assert all(g["actor"]["username"] == "alice" and g["newHash"] is None and g["oldHash"] for g in gone)

    assert verify_logs(cluster, base, tmp_path).startswith("valid: records")
    _tampering_is_caught(cluster, base, tmp_path, update)
    _the_ring_alone_verifies(cluster, update)


def _the_ring_alone_verifies(cluster: ControlPlane, record: dict[str, Any]) -> None:
    """What e2e/ checks on any cluster: the newest records kept in the cluster verify against the checkpoint."""
    cm = cluster.kubectl("get", "configmap", "modelguard-audit", "-n", OPERATOR_NAMESPACE, "-o", "json").stdout
    assert record["hash"] in cm
    result = cli(cluster, "audit", "verify", "--ring")
    assert result.returncode == 0 and result.stdout.splitlines()[-1].startswith("valid"), result.stdout


def _tampering_is_caught(cluster: ControlPlane, base: Path, tmp_path: Path, target: dict[str, Any]) -> None:
    saved = cluster.kubectl(
        "get", "configmap", "modelguard-audit", "-n", OPERATOR_NAMESPACE, "-o", r"jsonpath={.data.checkpoint\.json}"
    ).stdout
    checkpoint = tmp_path / "checkpoint.json"
    checkpoint.write_text(saved)  # saved before the logs are read: the logs reach it
    lines = [line for p in operator_logs(base) for line in p.read_text(errors="replace").splitlines()]
    audit_lines = [(json.loads(line)["seq"], line) for line in lines if line.startswith('{"action"')]
    # the log as of the checkpoint: the operator is shared, and other tests' namespaces are still being
    # cleaned up (their deletions are audited after the checkpoint was read; a full verify calls them uncovered)
    covered = json.loads(saved)["seq"]
    unique = sorted((seq, line) for seq, line in dict(audit_lines).items() if seq <= covered)
    intact = tmp_path / "intact.log"
    intact.write_text("\n".join(line for _, line in unique) + "\n")

    def check(text: str) -> Any:
        path = tmp_path / "changed.log"
        path.write_text(text)
        return cli(cluster, "audit", "verify", str(path))

    text = intact.read_text()
    pinned = cli(cluster, "audit", "verify", str(intact), "--checkpoint", str(checkpoint))
    assert pinned.returncode == 0, pinned.stdout
    point = json.loads(saved)
    checkpoint.write_text(json.dumps({**point, "seq": point["seq"] - 1}))
    moved = cli(cluster, "audit", "verify", str(intact), "--checkpoint", str(checkpoint))
    assert moved.returncode == 1 and "signature does not match" in moved.stdout
    forged = check(text.replace('"username":"alice"', '"username":"mallory"'))
    assert forged.returncode == 1 and "altered" in forged.stdout
    seq = target["seq"]
    gap = check("\n".join(line for s, line in unique if s != seq) + "\n")
    assert gap.returncode == 1 and f"records missing from the log: {seq}" in gap.stdout
    cut = check("\n".join(line for s, line in unique[:-2]) + "\n")
    assert cut.returncode == 1 and "are missing" in cut.stdout and "signed checkpoint" in cut.stdout
    assert len(parse_log(text.splitlines())) == len(unique)


def test_no_record_is_lost_across_an_operator_restart(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    base: Path,
    tmp_path: Path,
) -> None:
    grant(cluster, namespace, "alice", ["aimodels"])
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    pub = publish(models_root, namespace, "m", KEY)
    assert as_user(cluster, "alice", namespace, model("before", pub.source, pub.bundle, name)).returncode == 0
    operator.kill()  # SIGKILL right after the change was admitted
    try:
        refused = as_user(cluster, "alice", namespace, model("while-down", pub.source, pub.bundle, name))
        assert refused.returncode != 0  # no audit, no change (fail closed)
    finally:
        operator.restart()
    assert as_user(cluster, "alice", namespace, model("after", pub.source, pub.bundle, name)).returncode == 0
    wait_for_condition(api, "aimodels", namespace, "after", "Verified", "True")

    def logged() -> list[dict[str, Any]] | None:
        found = records(base)
        return found if find(found, namespace=namespace, name="after", action="CREATE") else None

    log = eventually(logged, what="the record of the change after the restart")
    (before,) = find(log, kind="AIModel", namespace=namespace, name="before", action="CREATE")
    (after,) = find(log, kind="AIModel", namespace=namespace, name="after", action="CREATE")
    assert after["seq"] > before["seq"]
    assert not find(log, namespace=namespace, name="while-down")
    printed = [line for p in operator_logs(base) for line in p.read_text().splitlines() if before["hash"] in line]
    assert len([line for line in printed if f'"hash":"{before["hash"]}"' in line]) >= 2  # re-emitted at start
    assert verify_logs(cluster, base, tmp_path).startswith("valid: records")
    api.delete("trustpolicies", None, name)


class Sink(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.up = True
        self.token = "sink-token-" + "x" * 16
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Authorization") != f"Bearer {sink.token}":
                    self.send_response(401)
                elif not sink.up or self.headers.get("Content-Type") != "application/x-ndjson":
                    self.send_response(503)
                else:
                    with sink.lock:
                        sink.lines.extend(body.decode().splitlines())
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        super().__init__(("127.0.0.1", free_port()), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/audit"


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_records_reach_the_http_sink_even_across_an_outage_and_a_restart(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    sink: Sink,
    tmp_path: Path,
) -> None:
    grant(cluster, namespace, "alice", ["aimodels"])
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    pub = publish(models_root, namespace, "m", KEY)
    token = tmp_path / "sink-token"
    token.write_text(sink.token + "\n")
    with_sink = ["--audit-sink", sink.url, "--audit-sink-token-file", str(token)]
    operator.restart(with_sink)
    try:

        def received(model_name: str) -> list[dict[str, Any]]:
            with sink.lock:
                got = parse_log(sink.lines)
            return find(got, namespace=namespace, name=model_name, action="CREATE")

        assert as_user(cluster, "alice", namespace, model("one", pub.source, pub.bundle, name)).returncode == 0
        eventually(lambda: received("one"), what="the sink to receive the first record")
        sink.up = False
        assert as_user(cluster, "alice", namespace, model("two", pub.source, pub.bundle, name)).returncode == 0
        operator.kill()  # the sink never confirmed record "two"
        assert not received("two")
        sink.up = True
        operator.restart(with_sink)
        (two,) = eventually(lambda: received("two"), what="the undelivered record after the restart")
        assert two["actor"]["username"] == "alice"
        assert sink.token not in operator.log.read_text()  # the token is never logged
    finally:
        operator.restart()
        api.delete("trustpolicies", None, name)


def test_the_sink_receives_ocsf_events_a_siem_reads_without_a_modelguard_parser(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    sink: Sink,
    tmp_path: Path,
) -> None:
    """Issue 19, item 4: alice's change is an OCSF API Activity with her as the actor; a model signed by a key
    the policy does not trust is a Detection Finding; each event keeps the record, whose hash still verifies."""
    grant(cluster, namespace, "alice", ["aimodels"])
    name = f"p-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    good = publish(models_root, namespace, "good", KEY)
    forged = publish(models_root, namespace, "forged", KeyPair.generate())  # a key the policy does not trust
    token = tmp_path / "sink-token"
    token.write_text(sink.token + "\n")
    operator.restart(["--audit-sink", sink.url, "--audit-sink-token-file", str(token), "--audit-sink-format", "ocsf"])
    try:

        def events(class_uid: int, model_name: str) -> list[dict[str, Any]]:
            with sink.lock:
                got = [json.loads(line) for line in sink.lines]
            return [
                e
                for e in got
                if e["class_uid"] == class_uid
                and e["resources"][0] == {**e["resources"][0], "namespace": namespace, "name": model_name}
            ]

        assert as_user(cluster, "alice", namespace, model("good", good.source, good.bundle, name)).returncode == 0
        assert as_user(cluster, "alice", namespace, model("forged", forged.source, forged.bundle, name)).returncode == 0
        (created, *_) = eventually(lambda: events(6003, "good"), what="alice's change as OCSF API Activity")
        assert (created["activity_name"], created["actor"]["user"]["name"]) == ("Create", "alice")
        assert created["type_uid"] == 600301 and created["metadata"]["product"]["name"] == "ModelGuard"
        record = created["unmapped"]["modelguard_record"]
        assert record_hash(record) == record["hash"] == created["metadata"]["uid"]
        (finding, *_) = eventually(lambda: events(2004, "forged"), what="the rejected model as an OCSF finding")
        assert finding["severity_id"] == 4 and finding["finding_info"]["title"] == "AI model failed verification"
        assert finding["actor"]["user"]["name"] == "system:modelguard-operator"
        rejected = wait_for_condition(api, "aimodels", namespace, "forged", "Verified", "False")
        (verified,) = [c for c in rejected["status"]["conditions"] if c["type"] == "Verified"]
        assert finding["finding_info"]["desc"] == verified["reason"]
        assert not events(2004, "good")  # a verified model is no finding

        # a refused request is no audit record, but the SIEM sees it (who tried what, and why it was refused)
        evil = model("evil", "https://evil.example/m", "https://evil.example/m.sig", name)
        assert as_user(cluster, "alice", namespace, evil).returncode != 0
        (refused, *_) = eventually(
            lambda: [e for e in events(6003, "evil") if e["status"] == "Failure"], what="the refusal as an OCSF event"
        )
        assert refused["actor"]["user"]["name"] == "alice" and refused["activity_name"] == "Create"
        assert "is not under an allowed source" in refused["status_detail"]
        assert "modelguard_record" not in refused["unmapped"]  # outside the chain
    finally:
        operator.restart()
        api.delete("trustpolicies", None, name)
