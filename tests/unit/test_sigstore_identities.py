"""Sigstore keyless signers in a TrustPolicy (issue 16 item 3): which certificate identities and OIDC issuers
are trusted, exactly or by a pattern, with a key's validity window and revocation; verified on real
public-good bundles, offline."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from modelguard.adapters.verifier import verify_local
from modelguard.api.condition_reasons import Reason
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain.errors import VerificationError
from modelguard.domain.trust import TrustedIdentity, anchor_for, keyless_signer

VECTORS = Path(__file__).resolve().parents[1] / "data" / "model_signing_vectors"
SIGNER = "stefanb@us.ibm.com"
ISSUER = "https://sigstore.verify.ibm.com/oauth2"
NOW = datetime.now(UTC)
GITHUB = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/acme/models/.github/workflows/release.yml@refs/tags/v1.2.0"


@pytest.mark.parametrize(
    ("trusted", "names", "issuer", "matched"),
    [
        (TrustedIdentity("a", GITHUB, identity=WORKFLOW), {WORKFLOW}, GITHUB, WORKFLOW),
        (TrustedIdentity("a", GITHUB, identity=WORKFLOW), {WORKFLOW}, "https://evil.example", None),  # issuer
        (TrustedIdentity("a", GITHUB, identity=WORKFLOW), {WORKFLOW + "x"}, GITHUB, None),  # exact means exact
        (
            TrustedIdentity(
                "a",
                GITHUB,
                pattern=r"https://github\.com/acme/[^/]+/\.github/workflows/release\.yml"
                r"@refs/tags/v.*",
            ),
            {WORKFLOW},
            GITHUB,
            WORKFLOW,
        ),
        # a pattern matches the whole identity: a prefix or a fragment is not enough
        (TrustedIdentity("a", GITHUB, pattern=r"https://github\.com/acme/"), {WORKFLOW}, GITHUB, None),
        (TrustedIdentity("a", GITHUB, pattern=r"acme"), {WORKFLOW}, GITHUB, None),
        (
            TrustedIdentity("a", GITHUB, pattern=r"https://github\.com/acme/.*"),
            {"https://github.com/acme-evil/x/.github/workflows/r.yml@refs/tags/v1"},
            GITHUB,
            None,
        ),
        (TrustedIdentity("a", GITHUB, identity=WORKFLOW), set(), GITHUB, None),  # no identity at all
    ],
)
def test_an_identity_is_trusted_only_with_its_issuer_and_all_of_its_name(
    trusted: TrustedIdentity, names: set[str], issuer: str, matched: str | None
) -> None:
    assert trusted.matches(names, issuer) == matched


def test_validity_and_revocation_apply_as_for_keys_and_a_usable_match_wins() -> None:
    revoked = TrustedIdentity("old", GITHUB, identity=WORKFLOW, revoked=True)
    later = TrustedIdentity("later", GITHUB, identity=WORKFLOW, not_before=NOW + timedelta(days=1))
    expired = TrustedIdentity("gone", GITHUB, identity=WORKFLOW, not_after=NOW - timedelta(days=1))
    current = TrustedIdentity("current", GITHUB, pattern=r"https://github\.com/acme/.*")
    for only, reason in (
        (revoked, Reason.KEY_REVOKED),
        (later, Reason.KEY_NOT_YET_VALID),
        (expired, Reason.KEY_EXPIRED),
    ):
        with pytest.raises(VerificationError) as refused:
            keyless_signer([only], {WORKFLOW}, GITHUB, NOW)
        assert refused.value.reason == reason
    assert keyless_signer([revoked, current], {WORKFLOW}, GITHUB, NOW) == (current, WORKFLOW)
    with pytest.raises(VerificationError) as unknown:
        keyless_signer([current], {"mallory@example.com"}, "https://accounts.google.com", NOW)
    assert unknown.value.reason == Reason.UNKNOWN_SIGNER and "mallory@example.com" in unknown.value.message


def test_a_recorded_signer_finds_its_identity_again() -> None:
    current = TrustedIdentity("release", GITHUB, pattern=r".*")
    assert anchor_for("sigstore", "release", [current]) is current
    assert anchor_for("sigstore", "releases", [current]) is None
    assert anchor_for("certificate", "release", [current]) is None  # an id names one anchor of one kind
    assert current.names(WORKFLOW, GITHUB)
    assert not current.names(WORKFLOW, "https://evil.example")
    assert not TrustedIdentity("release", GITHUB, pattern=r"https://github\.com/other/.*").names(WORKFLOW, GITHUB)


def _model(tmp_path: Path) -> tuple[Path, bytes]:
    model = tmp_path / "model"
    shutil.copytree(VECTORS / "v1.1.0-sigstore", model)
    signature = (model / "model.sig").read_bytes()
    (model / "model.sig").unlink()
    return model, signature


def test_a_policy_identity_verifies_a_real_bundle_offline_and_records_who_and_where(tmp_path: Path) -> None:
    model, signature = _model(tmp_path)
    ignore = ["ignore-me"] if (model / "ignore-me").exists() else []
    anchors = [TrustedIdentity("ibm", ISSUER, pattern=r"[a-z]+@us\.ibm\.com")]
    result = verify_local(model, signature, anchors, NOW, ignore=ignore)
    assert result.signer == f"ibm:{SIGNER}"
    signed_by = result.signed_by
    assert signed_by is not None and (signed_by.method, signed_by.anchor) == ("sigstore", "ibm")
    assert (signed_by.subject, signed_by.issuer) == (SIGNER, ISSUER)
    assert signed_by.log_index is not None and signed_by.log_index.isdigit()


@pytest.mark.parametrize(
    ("anchors", "reason"),
    [
        ([TrustedIdentity("ibm", ISSUER, pattern=r"stefanb")], Reason.UNKNOWN_SIGNER),  # partial is no match
        ([TrustedIdentity("ibm", "https://accounts.google.com", identity=SIGNER)], Reason.UNKNOWN_SIGNER),
        ([TrustedIdentity("ibm", ISSUER, identity=SIGNER, revoked=True)], Reason.KEY_REVOKED),
        ([], Reason.UNKNOWN_SIGNER),  # keys and CAs only: a keyless bundle has no trusted signer
    ],
)
def test_a_real_bundle_is_refused_when_the_policy_does_not_trust_its_signer(
    anchors: list[TrustedIdentity], reason: str, tmp_path: Path
) -> None:
    model, signature = _model(tmp_path)
    with pytest.raises(VerificationError) as refused:
        verify_local(model, signature, anchors, NOW, ignore=["ignore-me"])
    assert refused.value.reason == reason


def _policy(**identity: object) -> dict[str, object]:
    return {"sigstoreIdentities": [{"id": "release", "issuer": GITHUB, **identity}], "allowedSources": ["oci://r"]}


def test_the_api_takes_an_identity_or_a_pattern_that_compiles_and_ids_unique_across_anchors() -> None:
    TrustPolicySpec.model_validate(_policy(identity=WORKFLOW))  # Sigstore alone is enough trust
    TrustPolicySpec.model_validate(_policy(identityPattern=r"https://github\.com/acme/.*"))
    for bad in (_policy(), _policy(identity=WORKFLOW, identityPattern=".*"), _policy(identityPattern="(unclosed")):
        with pytest.raises(ValidationError):
            TrustPolicySpec.model_validate(bad)
    with pytest.raises(ValidationError, match="unique"):
        TrustPolicySpec.model_validate({**_policy(identity=WORKFLOW), "keys": [{"id": "release", "publicKey": "PEM"}]})
    with pytest.raises(ValidationError, match="https"):
        TrustPolicySpec.model_validate(
            {
                **_policy(identity=WORKFLOW),
                "sigstoreIdentities": [{"id": "x", "issuer": "http://insecure.example", "identity": WORKFLOW}],
            }
        )
