"""Inspection in the cluster (issue 17): a TrustPolicy that requires it refuses a pickled model (verified, but
`Inspected=False` and nothing rolls out) and lets a safetensors model roll out, from a directory, over https
and from an OCI registry (ranged reads: headers, not weights); the pods' init containers inspect the same
way, so a pod never starts on a forbidden file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import hostile_files as hostile
from tests.harness.client import KubeTestClient, condition, wait_for_condition
from tests.harness.init_containers import run_init_command, shipped_material
from tests.harness.model_corpus import SAMPLES_BY_NAME
from tests.harness.models import KeyPair, sign
from tests.harness.operator import OperatorProcess
from tests.harness.publish import Published, model, policy, push_to_registry
from tests.harness.samples import ai_deployment
from tests.harness.servers import HttpsFileServer, Registry

pytestmark = pytest.mark.timeout(300)
KEY = KeyPair.generate()
INSPECTION = {"allowedFormats": ["safetensors", "json"], "pickles": "Refuse"}


def _publish(root: Path, namespace: str, name: str, files: dict[str, bytes]) -> Published:
    directory = root / namespace / name
    directory.mkdir(parents=True)
    for rel, data in files.items():
        (directory / rel).write_bytes(data)
    signature = root / namespace / f"{name}.sig"
    signature.write_bytes(sign(directory, KEY))
    return Published(directory, signature)


SAFE = {"model.safetensors": SAMPLES_BY_NAME["plain.safetensors"].data, "config.json": b'{"hidden_size": 2}'}
PICKLED = {"pytorch_model.bin": SAMPLES_BY_NAME["torch-evil.pt"].data, "config.json": b'{"hidden_size": 2}'}


def test_a_pickled_model_is_refused_and_a_safetensors_model_rolls_out_with_pods_that_inspect(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, tmp_path: Path
) -> None:
    name = f"inspect-{namespace}"
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"], inspection=INSPECTION))
    safe = _publish(models_root, namespace, "safe", SAFE)
    pickled = _publish(models_root, namespace, "pickled", PICKLED)
    api.create("aimodels", namespace, model("safe", safe.source, safe.bundle, name))
    api.create("aimodels", namespace, model("pickled", pickled.source, pickled.bundle, name))

    body = wait_for_condition(api, "aimodels", namespace, "pickled", "Inspected", "False", "UnsafeFiles")
    assert condition(body, "Verified")["status"] == "True"  # the signature is fine: the content is not
    said = condition(body, "Inspected")["message"]
    assert "pytorch_model.bin (pytorch)" in said and "would import posix.system" in said, said
    assert condition(body, "Ready")["reason"] == "UnsafeFiles"
    record = body["status"]["verified"]["inspection"]
    assert record["formats"] == ["json", "pytorch"] and record["findings"]

    body = wait_for_condition(api, "aimodels", namespace, "safe", "Inspected", "True", "FilesSafe")
    assert body["status"]["verified"]["inspection"]["formats"] == ["json", "safetensors"]
    assert condition(body, "Ready")["status"] == "True"

    api.create("aideployments", namespace, ai_deployment("refused", "pickled"))
    held = wait_for_condition(api, "aideployments", namespace, "refused", "ModelVerified", "False", "UnsafeFiles")
    assert "would import posix.system" in condition(held, "ModelVerified")["message"]
    assert api.apps.list_namespaced_deployment(namespace).items == []  # nothing rolled out

    api.create("aideployments", namespace, ai_deployment("svc", "safe"))
    wait_for_condition(api, "aideployments", namespace, "svc", "ModelVerified", "True")
    cache = api.apps.read_namespaced_deployment("svc-model-cache", namespace).spec.template.spec
    args = list(cache.init_containers[0].args)
    assert args[args.index("--allow-formats") + 1] == "safetensors,json" and "--refuse-pickles" in args
    server = api.apps.read_namespaced_deployment("svc", namespace).spec.template.spec
    assert "--inspect" in list(server.init_containers[0].args)
    # the cache's exact command (containers do not run under kwok) passes the safe model ...
    verify_dir = tmp_path / "verify"
    shipped_material(api, namespace, cache, verify_dir)

    def pod_command(source: Path) -> subprocess.CompletedProcess[str]:
        swap = {safe.source: f"file://{source}"}
        return run_init_command(args, verify_dir, tmp_path / "fetched", models_root, swap)

    ran = pod_command(safe.model)
    assert ran.returncode == 0 and "every file may be loaded" in ran.stdout, ran.stdout + ran.stderr
    # ... and refuses a pickle swapped in under a safe name after the operator looked (it is signed: the
    # publisher's key signed it; the init container's inspection is what stops it)
    swapped = _publish(
        models_root,
        namespace,
        "swapped",
        {"model.safetensors": PICKLED["pytorch_model.bin"], "config.json": SAFE["config.json"]},
    )
    (verify_dir / "signature").write_bytes(swapped.signature.read_bytes())
    command_digest = args[args.index("--expect-digest") + 1]
    args[args.index("--expect-digest") + 1] = _digest_of(swapped)
    ran = pod_command(swapped.model)
    args[args.index("--expect-digest") + 1] = command_digest
    assert ran.returncode == 1 and "not verified: UnsafeFiles" in ran.stdout, ran.stdout + ran.stderr
    assert "model.safetensors (pytorch)" in ran.stdout
    api.delete("trustpolicies", None, name)


def _digest_of(pub: Published) -> str:
    from datetime import UTC, datetime

    from modelguard.adapters.verifier import verify_local
    from modelguard.domain.trust import TrustedKey

    return verify_local(
        pub.model, pub.signature.read_bytes(), [TrustedKey("k", KEY.public_pem)], datetime.now(UTC)
    ).digest


def test_remote_sources_are_inspected_by_ranged_reads(
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
    https_files: HttpsFileServer,
    registry: Registry,
) -> None:
    name = f"remote-{namespace}"
    allowed = [f"{https_files.url}/", f"oci://{registry.host}/"]
    api.create("trustpolicies", None, policy(name, namespace, KEY, allowed, inspection=INSPECTION))
    safe = _publish(models_root, namespace, "safe", SAFE)
    pickled = _publish(models_root, namespace, "pickled", PICKLED)
    shutil.copytree(pickled.model, https_files.root / namespace / "pickled")
    shutil.copy(pickled.signature, https_files.root / namespace / "pickled.sig")
    base = f"{https_files.url}/{namespace}"
    api.create("aimodels", namespace, model("web", f"{base}/pickled", f"{base}/pickled.sig", name))
    body = wait_for_condition(api, "aimodels", namespace, "web", "Inspected", "False", "UnsafeFiles")
    assert "would import posix.system" in condition(body, "Inspected")["message"]

    source, bundle = push_to_registry(registry, safe, f"models/{namespace}")
    api.core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "registry-creds"},
            "stringData": {"username": registry.username, "password": registry.password},
        },
    )
    oci = model("oci", source, bundle, name)
    oci["spec"]["source"]["credentialsSecretRef"] = {"name": "registry-creds"}
    api.create("aimodels", namespace, oci)
    body = wait_for_condition(api, "aimodels", namespace, "oci", "Inspected", "True", "FilesSafe")
    assert body["status"]["verified"]["inspection"]["formats"] == ["json", "safetensors"]
    api.delete("trustpolicies", None, name)


HOSTILE_POLICY = {"allowedFormats": ["safetensors", "json", "text", "gguf", "numpy", "keras"], "pickles": "Refuse"}


def test_files_that_failed_open_are_refused_by_the_operator_and_by_the_pods(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, tmp_path: Path
) -> None:
    """Issue 27 item 8: a pickle followed by bytes that break the disassembler (it was text and rolled out
    under `pickles: Refuse`), a NumPy object array spelled 'object', a GGUF chat template with the
    CVE-2024-34359 payload and a Keras activation naming builtins.exec are refused by the operator, hold the
    rollout, and a pod whose signed file was swapped for one of them does not start."""
    name = f"failopen-{namespace}"
    allowed = [f"file://{models_root}/"]
    api.create("trustpolicies", None, policy(name, namespace, KEY, allowed, inspection=HOSTILE_POLICY))
    hostile_models = {
        "notes": {"README.md": hostile.pickle_then_breakage(), "config.json": b"{}"},
        "objects": {"weights.npy": hostile.npy_object_spelled_out(), "config.json": b"{}"},
        "template": {"model.gguf": hostile.gguf_with_template(hostile.CVE_2024_34359)},
        "activation": {"model.keras": hostile.keras_builtins_exec()},
    }
    for model_name, files in hostile_models.items():
        published = _publish(models_root, namespace, model_name, files)
        api.create("aimodels", namespace, model(model_name, published.source, published.bundle, name))
    says = {
        "notes": "holds a pickle, and the TrustPolicy refuses pickles",
        "objects": "would import posix.system in object array",
        "template": "tokenizer.chat_template: names Python internals",
        "activation": "'exec' from module 'builtins' is not a Keras function",
    }
    for model_name, said in says.items():
        body = wait_for_condition(api, "aimodels", namespace, model_name, "Inspected", "False", "UnsafeFiles")
        assert said in condition(body, "Inspected")["message"], condition(body, "Inspected")["message"]

    api.create("aideployments", namespace, ai_deployment("held", "notes"))
    wait_for_condition(api, "aideployments", namespace, "held", "ModelVerified", "False", "UnsafeFiles")
    assert api.apps.list_namespaced_deployment(namespace).items == []

    # the pods inspect the bytes they load: a safe model's README swapped for the hostile one is refused
    safe = _publish(models_root, namespace, "safe", {**SAFE, "README.md": b"# a model\n"})
    api.create("aimodels", namespace, model("safe", safe.source, safe.bundle, name))
    wait_for_condition(api, "aimodels", namespace, "safe", "Inspected", "True", "FilesSafe")
    api.create("aideployments", namespace, ai_deployment("svc", "safe"))
    wait_for_condition(api, "aideployments", namespace, "svc", "ModelVerified", "True")
    cache = api.apps.read_namespaced_deployment("svc-model-cache", namespace).spec.template.spec
    args = list(cache.init_containers[0].args)
    assert "--refuse-pickles" in args
    verify_dir = tmp_path / "verify"
    shipped_material(api, namespace, cache, verify_dir)
    swapped = _publish(models_root, namespace, "swapped", {**SAFE, "README.md": hostile.pickle_then_breakage()})
    (verify_dir / "signature").write_bytes(swapped.signature.read_bytes())
    args[args.index("--expect-digest") + 1] = _digest_of(swapped)
    ran = run_init_command(
        args, verify_dir, tmp_path / "fetched", models_root, {safe.source: f"file://{swapped.model}"}
    )
    assert ran.returncode == 1 and "not verified: UnsafeFiles" in ran.stdout, ran.stdout + ran.stderr
    assert "README.md (pickle)" in ran.stdout and "would import os.system" in ran.stdout
    api.delete("trustpolicies", None, name)
