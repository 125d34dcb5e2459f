"""A model signed keyless with Sigstore (issue 16): the TrustPolicy trusts an identity (here a pattern) and its
OIDC issuer; the operator verifies a real public-good bundle offline, records the identity, issuer and
transparency-log index, rolls out, and the pods verify against exactly the identity it matched; revoking the
identity quarantines; a policy that trusts another identity, or names a trust configuration that is missing,
verifies nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.harness.client import KubeTestClient, condition, wait_for_condition
from tests.harness.init_containers import run_init_command, shipped_material
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, publish
from tests.harness.samples import ai_deployment

pytestmark = pytest.mark.timeout(240)
VECTORS = Path(__file__).resolve().parents[1] / "data" / "model_signing_vectors"
SIGNER = "stefanb@us.ibm.com"
ISSUER = "https://sigstore.verify.ibm.com/oauth2"
ID = "ibm-release"


def keyless_model(root: Path, namespace: str) -> tuple[Path, Path]:
    """A real model_signing bundle signed keyless with the Sigstore public-good instance, and its model."""
    directory = root / namespace / "keyless"
    shutil.copytree(VECTORS / "v1.1.0-sigstore", directory)
    signature = root / namespace / "keyless.sig"
    (directory / "model.sig").rename(signature)
    shutil.rmtree(directory / "ignore-me", ignore_errors=True)
    (directory / "ignore-me").unlink(missing_ok=True)
    return directory, signature


def sigstore_policy(name: str, namespace: str, allowed: list[str], **identity: object) -> dict[str, object]:
    return {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "TrustPolicy",
        "metadata": {"name": name},
        "spec": {
            "sigstoreIdentities": [{"id": ID, "issuer": ISSUER, **identity}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "allowedSources": allowed,
        },
    }


def test_a_keyless_model_verifies_rolls_out_with_its_identity_and_is_quarantined_when_it_is_revoked(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path, tmp_path: Path
) -> None:
    path, signature = keyless_model(models_root, namespace)
    name = f"sigstore-{namespace}"
    allowed = [f"file://{models_root}/"]
    api.create("trustpolicies", None, sigstore_policy(name, namespace, allowed, identityPattern=r"[a-z]+@us\.ibm\.com"))
    policy = wait_for_condition(api, "trustpolicies", None, name, "Ready", "True")
    assert "1 Sigstore identities" in condition(policy, "Ready")["message"]
    api.create("aimodels", namespace, model("m", f"file://{path}", f"file://{signature}", name))
    body = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "True", "SignatureValid")
    verified = body["status"]["verified"]
    assert verified["signer"] == f"{ID}:{SIGNER}"
    by = verified["verifiedBy"]
    assert (by["method"], by["trusted"], by["subject"], by["issuer"]) == ("sigstore", ID, SIGNER, ISSUER)
    assert by["logIndex"].isdigit()

    api.create("aideployments", namespace, ai_deployment("svc", "m"))
    wait_for_condition(api, "aideployments", namespace, "svc", "ModelVerified", "True")
    for deployment in ("svc-model-cache", "svc"):  # the cache fetches from the source, the server from the cache
        spec = api.apps.read_namespaced_deployment(deployment, namespace).spec.template.spec
        args = list(spec.init_containers[0].args)
        assert args[args.index("--identity") + 1] == SIGNER  # what the pattern matched, not the pattern
        assert args[args.index("--identity-provider") + 1] == ISSUER
        assert "--key" not in args and "--certificate-chain" not in args and "--trust-config" not in args
    # the cache's exact command verifies with what the ConfigMap ships (containers do not run under kwok)
    cache = api.apps.read_namespaced_deployment("svc-model-cache", namespace).spec.template.spec
    verify_dir = tmp_path / "verify"
    shipped = shipped_material(api, namespace, cache, verify_dir)
    assert "signer.pem" not in shipped  # nothing to trust but the identity and the shipped trust root
    ran = run_init_command(list(cache.init_containers[0].args), verify_dir, tmp_path / "fetched", models_root)
    assert ran.returncode == 0 and f"signer=sigstore:{SIGNER} issuer={ISSUER}" in ran.stdout, ran.stdout + ran.stderr

    api.patch("trustpolicies", None, name, {"spec": {"revokedKeys": [ID]}})
    body = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "False", "KeyRevoked")
    wait_for_condition(api, "aideployments", namespace, "svc", "Quarantined", "True")
    api.delete("trustpolicies", None, name)


def test_another_identity_or_a_missing_trust_configuration_verifies_nothing(
    api: KubeTestClient, operator: OperatorProcess, namespace: str, models_root: Path
) -> None:
    """A policy for someone else's releases does not trust this signer, even one whose name contains theirs;
    a policy naming a private Sigstore whose trust configuration is missing verifies nothing keyless."""
    path, signature = keyless_model(models_root, namespace)
    allowed = [f"file://{models_root}/"]
    other = f"other-{namespace}"
    api.create("trustpolicies", None, sigstore_policy(other, namespace, allowed, identityPattern=r"stefanb"))
    api.create("aimodels", namespace, model("m", f"file://{path}", f"file://{signature}", other))
    body = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "False", "UnknownSigner")
    assert SIGNER in condition(body, "Verified")["message"] and "verified" not in body["status"]
    api.delete("aimodels", namespace, "m")
    api.delete("trustpolicies", None, other)

    private = f"private-{namespace}"
    spec = sigstore_policy(private, namespace, allowed, identity=SIGNER)
    spec["spec"]["sigstoreTrustConfig"] = {"name": "no-such-config", "key": "trust.json"}  # type: ignore[index]
    api.create("trustpolicies", None, spec)
    policy = wait_for_condition(api, "trustpolicies", None, private, "Ready", "False", "InvalidKey")
    assert "sigstoreTrustConfig" in condition(policy, "Ready")["message"]
    api.create("aimodels", namespace, model("m2", f"file://{path}", f"file://{signature}", private))
    body = wait_for_condition(api, "aimodels", namespace, "m2", "Verified", "False", "SignerNotFound")
    assert "no-such-config" in condition(body, "Verified")["message"]
    # ... but a model the same policy trusts by key does not need the Sigstore configuration
    key = KeyPair.generate()
    api.patch("trustpolicies", None, private, {"spec": {"keys": [{"id": "k", "publicKey": key.public_pem.decode()}]}})
    keyed = publish(models_root, namespace, "keyed", key)
    api.create("aimodels", namespace, model("m3", keyed.source, keyed.bundle, private))
    wait_for_condition(api, "aimodels", namespace, "m3", "Verified", "True", "SignatureValid")
    api.delete("trustpolicies", None, private)
