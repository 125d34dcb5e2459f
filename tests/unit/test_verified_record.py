"""The verified record is the typed hand-off between verification and deployments (issue 28 item 1): what
vouched for the signature (method, trusted id, subject or identity, issuer), where the signature came from and
the digest of its bytes; no code parses strings back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from modelguard.api.aimodel import AIModelSpec, VerifiedBy, VerifiedRecord
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain import model_verdicts
from modelguard.domain import verified_record as verified_record_module
from modelguard.domain.model_checks import keeps_last_verified, signer_still_trusted
from tests.harness.samples import DIGEST, ai_model, verified_record

NOW = datetime(2026, 11, 25, tzinfo=UTC)
SPEC = AIModelSpec.model_validate(ai_model("m")["spec"])
GITHUB = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/acme/models/.github/workflows/release.yml@refs/tags/v1.2.0"
KEYLESS = TrustPolicySpec.model_validate(
    {"sigstoreIdentities": [{"id": "release", "identityPattern": r"https://github\.com/acme/.*", "issuer": GITHUB}]}
)


def keyless_record() -> VerifiedRecord:
    record = verified_record(
        signature=str(SPEC.signature.bundle_uri), source=SPEC.source.uri, signer=f"release:{WORKFLOW}"
    )
    by = VerifiedBy(method="sigstore", trusted="release", subject=WORKFLOW, issuer=GITHUB, log_index="42")
    return record.model_copy(update={"verified_by": by})


def test_a_keyless_models_last_verified_record_survives_a_newer_generation_that_fails() -> None:
    """Issue 28: the signer `release:<identity>` was taken for a certificate's `<CA id>:<subject>` and looked up
    among the certificate authorities only: the record of a Sigstore-keyless model was dropped when a newer
    generation failed, and its deployments could be quarantined."""
    record = keyless_record()
    assert signer_still_trusted(record, KEYLESS, NOW)
    newer = SPEC.model_copy(update={"source": SPEC.source.model_copy(update={"uri": "file:///models/m-v2"})})
    assert keeps_last_verified("DigestMismatch", newer, record, KEYLESS, NOW)
    revoked = KEYLESS.model_copy(update={"revoked_keys": ["release"]})
    assert not keeps_last_verified("DigestMismatch", newer, record, revoked, NOW)


@pytest.mark.parametrize(
    ("by", "policy", "trusted"),
    [
        pytest.param(
            {"method": "key", "trusted": "k"},
            {"keys": [{"id": "k", "publicKey": "pem"}]},
            True,
            id="a key",
        ),
        pytest.param(
            {"method": "certificate", "trusted": "corp", "subject": "CN=bot", "issuer": "CN=corp"},
            {"certificateAuthorities": [{"id": "corp", "certificates": "pem"}]},
            True,
            id="a certificate authority",
        ),
        pytest.param(
            {"method": "certificate", "trusted": "corp", "subject": "CN=bot"},
            {"keys": [{"id": "corp", "publicKey": "pem"}]},
            False,
            id="a key is not the CA it was recorded as",
        ),
        pytest.param(
            {"method": "key", "trusted": "corp"},
            {"certificateAuthorities": [{"id": "corp", "certificates": "pem"}]},
            False,
            id="a CA is not the key it was recorded as",
        ),
        pytest.param(
            {"method": "sigstore", "trusted": "release", "subject": WORKFLOW, "issuer": GITHUB},
            {"sigstoreIdentities": [{"id": "release", "identity": WORKFLOW, "issuer": GITHUB}]},
            True,
            id="an exact identity",
        ),
        pytest.param(
            {"method": "sigstore", "trusted": "release", "subject": WORKFLOW, "issuer": GITHUB},
            {
                "sigstoreIdentities": [
                    {"id": "release", "identityPattern": r"https://github\.com/other/.*", "issuer": GITHUB}
                ]
            },
            False,
            id="an identity whose pattern no longer names the signer",
        ),
        pytest.param(
            {"method": "sigstore", "trusted": "release", "subject": WORKFLOW, "issuer": GITHUB},
            {"sigstoreIdentities": [{"id": "release", "identity": WORKFLOW, "issuer": "https://accounts.google.com"}]},
            False,
            id="an identity with another issuer",
        ),
        pytest.param(
            {"method": "sigstore", "trusted": "release", "subject": WORKFLOW, "issuer": GITHUB},
            {"certificateAuthorities": [{"id": "release", "certificates": "pem"}]},
            False,
            id="a CA is not the identity it was recorded as",
        ),
    ],
)
def test_the_signer_is_looked_up_by_its_method_and_id(
    by: dict[str, str], policy: dict[str, object], trusted: bool
) -> None:
    record = verified_record(verified_by=by)
    assert signer_still_trusted(record, TrustPolicySpec.model_validate(policy), NOW) is trusted


LEGACY = {  # status.verified as the release before issue 28 wrote it
    "digest": DIGEST,
    "source": "https://models.example/m",
    "signature": "https://models.example/m.sig",
    "signer": f"release:{WORKFLOW}",
    "verifiedBy": {"method": "sigstore", "trusted": "release", "subject": WORKFLOW, "issuer": GITHUB, "logIndex": "7"},
    "files": 2,
    "bytes": 10,
    "durationSeconds": 0.5,
    "policyGeneration": 3,
    "generation": 1,
    "at": "2026-11-25T00:00:00Z",
}


@pytest.mark.parametrize(
    ("stored", "signature_format", "by", "ref"),
    [
        pytest.param(
            LEGACY,
            "model-signing",
            LEGACY["verifiedBy"],
            {"format": "model-signing", "bundleUri": "https://models.example/m.sig"},
            id="the previous release: verifiedBy kept, the location read",
        ),
        pytest.param(
            {**LEGACY, "signature": "configmap/signatures/m.sig"},
            "detached",
            LEGACY["verifiedBy"],
            {"format": "detached", "configMapRef": {"name": "signatures", "key": "m.sig"}},
            id="a ConfigMap location, the spec's format",
        ),
        pytest.param(
            {**{k: v for k, v in LEGACY.items() if k != "verifiedBy"}, "signer": "corp:CN=release-bot,O=Acme"},
            "model-signing",
            {"method": "certificate", "trusted": "corp", "subject": "CN=release-bot,O=Acme"},
            {"format": "model-signing", "bundleUri": "https://models.example/m.sig"},
            id="before verifiedBy: a certificate authority's <id>:<subject>",
        ),
        pytest.param(
            {**{k: v for k, v in LEGACY.items() if k != "verifiedBy"}, "signer": "publisher"},
            "model-signing",
            {"method": "key", "trusted": "publisher"},
            {"format": "model-signing", "bundleUri": "https://models.example/m.sig"},
            id="before verifiedBy: a key",
        ),
    ],
)
def test_a_record_an_older_release_stored_is_upgraded_where_it_is_read(
    stored: dict[str, Any], signature_format: str, by: dict[str, Any], ref: dict[str, Any]
) -> None:
    status = verified_record_module.model_status({"verified": stored}, signature_format)
    record = status.verified
    assert record is not None
    assert record.verified_by.model_dump(by_alias=True, exclude_none=True) == by
    assert record.signature_ref.wire() == ref  # no digest of the signature bytes: the model is verified again
    assert (record.digest, record.source, record.signer) == (stored["digest"], stored["source"], stored["signer"])


def test_a_legacy_record_of_the_current_generation_is_verified_again_once() -> None:
    status = verified_record_module.model_status(
        {
            "verified": LEGACY,
            "attempt": {"generation": 1, "policyGeneration": 3, "at": LEGACY["at"], "reason": "SignatureValid"},
            "conditions": [
                {
                    "type": "Verified",
                    "status": "True",
                    "reason": "SignatureValid",
                    "observedGeneration": 1,
                    "lastTransitionTime": LEGACY["at"],
                }
            ],
        }
    )
    assert not model_verdicts.verification_current(status, 1, 3)  # learns the digest of the signature bytes
    assert model_verdicts.verification_current(status, 2, 3) is False  # (another generation verifies anyway)
    current = status.model_copy(update={"verified": verified_record(digest=DIGEST)})
    assert model_verdicts.verification_current(current, 1, 3)


def test_a_record_this_release_writes_reads_back_unchanged_and_needs_its_typed_parts() -> None:
    record = keyless_record()
    wire = record.wire()
    assert "signature" not in wire  # the location is typed: nothing writes the string any more
    assert verified_record_module.model_status({"verified": wire}).verified == record
    for part in ("verifiedBy", "signatureRef"):
        with pytest.raises(ValidationError):
            VerifiedRecord.model_validate({k: v for k, v in wire.items() if k != part})


def test_no_module_but_the_upgrade_reads_a_signer_or_location_string() -> None:
    """The signer and the signature location were parsed back in several places; now only the upgrade reads the
    strings an older release wrote."""
    root = Path(verified_record_module.__file__).parents[1]
    readers = {
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(
            r"signer\.(split|partition|startswith|removeprefix)|signature\.(split|startswith)|LEGACY_CONFIGMAP",
            path.read_text(),
        )
    }
    assert readers == {"domain/verified_record.py"}
