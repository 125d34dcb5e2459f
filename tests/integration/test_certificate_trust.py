"""A model signed with a certificate from an organisation's PKI (issue 16): the TrustPolicy trusts the CA,
the operator verifies, records who signed, rolls out, and the pods verify the same way; revoking the CA
quarantines; a certificate from another CA, or a CA where a key is expected, is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelguard.cli.main import main as cli
from tests.harness.client import KubeTestClient, condition, wait_for_condition
from tests.harness.init_containers import run_init_command, shipped_material
from tests.harness.models import write_model
from tests.harness.operator import OperatorProcess
from tests.harness.pki import issue
from tests.harness.publish import model
from tests.harness.samples import ai_deployment

pytestmark = pytest.mark.timeout(240)
CA_ID = "acme-models-ca"


def signed_with_certificate(root: Path, namespace: str, name: str, ca_dir: Path) -> tuple[Path, Path, bytes]:
    """A model under root/namespace signed by a certificate that an intermediate of a fresh root issued."""
    ca = issue("ACME Models Root", ca=True)
    intermediate = issue("ACME Models Issuing CA", ca, ca=True)
    leaf = issue("release-bot@acme.example", intermediate)
    cert, key = leaf.write(ca_dir, "leaf")
    chain = intermediate.write(ca_dir, "intermediate")[0]
    directory = root / namespace
    path = write_model(directory / name)
    signature = directory / f"{name}.sig"
    args = ["sign", "--key", str(key), "--signing-certificate", str(cert), "--certificate-chain", str(chain)]
    assert cli([*args, "--signature", str(signature), str(path)]) == 0
    return path, signature, ca.cert_pem()


def ca_policy(name: str, namespace: str, ca_pem: bytes, allowed: list[str], **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "TrustPolicy",
        "metadata": {"name": name},
        "spec": {
            "certificateAuthorities": [{"id": CA_ID, "certificates": ca_pem.decode()}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "allowedSources": allowed,
            **spec,
        },
    }


def test_a_certificate_signed_model_verifies_rolls_out_and_is_quarantined_when_its_ca_is_revoked(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, tmp_path: Path
) -> None:
    path, signature, ca_pem = signed_with_certificate(models_root, namespace, "m", tmp_path / "pki")
    name = f"ca-{namespace}"
    api.create("trustpolicies", None, ca_policy(name, namespace, ca_pem, [f"file://{models_root}/"]))
    policy = wait_for_condition(api, "trustpolicies", None, name, "Ready", "True")
    assert "1 certificate authorities" in condition(policy, "Ready")["message"]
    api.create("aimodels", namespace, model("m", f"file://{path}", f"file://{signature}", name))
    body = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True", "SignatureValid")
    assert body["status"]["verified"]["signer"] == f"{CA_ID}:CN=release-bot@acme.example"

    api.create("aideployments", namespace, ai_deployment("svc", "m"))
    wait_for_condition(api, "aideployments", namespace, "svc", "ModelVerified", "True")
    cache = api.apps.read_namespaced_deployment("svc-model-cache", namespace).spec.template.spec
    args = list(cache.init_containers[0].args)
    assert args[args.index("--certificate-chain") + 1] == f"{CA_ID}=/etc/modelguard/verify/signer.pem"
    assert "--key" not in args
    # the pod's exact command verifies with the CA the ConfigMap ships (containers do not run under kwok)
    verify_dir = tmp_path / "verify"
    shipped_material(api, namespace, cache, verify_dir)  # signer.pem (the CA), digest, ca.crt (source CAs)
    ran = run_init_command(args, verify_dir, tmp_path / "fetched", models_root)
    assert ran.returncode == 0 and f"signer={CA_ID}:CN=release-bot@acme.example" in ran.stdout, ran.stdout + ran.stderr

    api.patch("trustpolicies", None, name, {"spec": {"revokedKeys": [CA_ID]}})
    wait_for_condition(api, "aideployments", namespace, "svc", "Quarantined", "True")
    api.delete("trustpolicies", None, name)


def test_a_certificate_from_another_ca_or_a_key_only_policy_is_refused(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, tmp_path: Path
) -> None:
    path, signature, _ = signed_with_certificate(models_root, namespace, "m", tmp_path / "pki")
    other = issue("Some Other Root", ca=True).cert_pem()
    name = f"other-{namespace}"
    api.create("trustpolicies", None, ca_policy(name, namespace, other, [f"file://{models_root}/"]))
    api.create("aimodels", namespace, model("m", f"file://{path}", f"file://{signature}", name))
    body = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "False", "UntrustedCertificate")
    assert "does not chain to a trusted CA" in condition(body, "Verified")["message"]
    api.delete("trustpolicies", None, name)


def test_a_policy_must_trust_something(api: KubeTestClient, operator: OperatorProcess, namespace: str) -> None:
    """The API server refuses a TrustPolicy with neither keys nor certificate authorities (CEL), as the models
    do (pydantic), and ids must be unique across both."""
    from kubernetes.client.exceptions import ApiException

    from modelguard.api.trustpolicy import TrustPolicySpec

    empty = ca_policy(f"empty-{namespace}", namespace, b"", [])
    empty["spec"] = {"keys": [], "allowedSources": []}  # type: ignore[index]
    with pytest.raises(ApiException) as refused:
        api.create("trustpolicies", None, empty)
    assert refused.value.status == 422 and "trust at least one key, certificate authority or Sigstore identity" in str(
        refused.value.body
    )
    with pytest.raises(ValueError, match="trust at least one"):
        TrustPolicySpec.model_validate({"keys": []})
    pem = issue("Root", ca=True).cert_pem().decode()
    with pytest.raises(ValueError, match="unique"):
        TrustPolicySpec.model_validate(
            {"keys": [{"id": "x", "publicKey": "p"}], "certificateAuthorities": [{"id": "x", "certificates": pem}]}
        )
