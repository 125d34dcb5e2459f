"""Checks on an AIModel that need no I/O: policy applies, sources allowed, URIs safe, card complete.

Ordered like the deployment gate: each check returns a VerificationError-like verdict or None.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from modelguard.api.aimodel import AIModelSpec, VerifiedRecord
from modelguard.api.base import carries_credentials, lacks_host
from modelguard.api.condition_reasons import Reason
from modelguard.api.trustpolicy import (
    TrustedCertificateAuthority,
    TrustedKey,
    TrustedSigstoreIdentity,
    TrustPolicySpec,
)
from modelguard.domain.errors import VerificationError
from modelguard.domain.gates import first_violation
from modelguard.domain.policy_reading import INVALID, NOT_FOUND
from modelguard.domain.trust import TrustedIdentity, selector_matches, source_allowed

# Outcomes worth retrying with backoff rather than recording as a verdict on this generation.
TRANSIENT = frozenset(
    {
        Reason.SOURCE_UNREACHABLE,
        Reason.SOURCE_UNAUTHORIZED,
        Reason.SOURCE_NOT_FOUND,
        Reason.SOURCE_TIMED_OUT,
        Reason.VERIFYING,
        Reason.QUEUED,
        Reason.AWAITING_VERIFICATION,
    }
)
# Outcomes that mean the policy no longer covers this model at all.
POLICY_GONE = frozenset({Reason.POLICY_NOT_APPLICABLE, NOT_FOUND, INVALID})


@dataclass(frozen=True)
class ModelFacts:
    namespace: str
    namespace_labels: Mapping[str, str] | None
    spec: AIModelSpec
    policy: TrustPolicySpec | None
    policy_problem: VerificationError | None = None  # why policy is None (domain/policy_reading.py)


Check = Callable[[ModelFacts], VerificationError | None]


def policy_exists(facts: ModelFacts) -> VerificationError | None:
    if facts.policy is None:
        return facts.policy_problem or VerificationError(
            NOT_FOUND, f"TrustPolicy {facts.spec.trust_policy!r} does not exist"
        )
    return None


def policy_applies(facts: ModelFacts) -> VerificationError | None:
    assert facts.policy is not None
    if facts.namespace_labels is None or not selector_matches(facts.policy.namespace_selector, facts.namespace_labels):
        return VerificationError(
            Reason.POLICY_NOT_APPLICABLE,
            f"TrustPolicy {facts.spec.trust_policy!r} does not select namespace {facts.namespace!r}",
        )
    return None


def uri_problem(uri: str) -> str | None:
    """Why a source or signature URI is unsafe, or None."""
    parts = urllib.parse.urlsplit(uri)
    if carries_credentials(uri):
        return "URIs must not carry credentials; use credentialsSecretRef"
    if parts.query or parts.fragment:
        return "URIs must not have a query or fragment"
    if any(seg in ("..", ".") for seg in urllib.parse.unquote(parts.path).split("/")):
        return "URI paths must not contain . or .. segments"
    if lacks_host(uri):
        return "URI has no host"
    return None


def fetched_uris(spec: AIModelSpec) -> list[tuple[str, str]]:
    """(field, URI) of everything the operator or a pod fetches for this model: each is a source."""
    out = [("spec.source.uri", spec.source.uri)]
    if spec.signature.bundle_uri:
        out.append(("spec.signature.bundleUri", spec.signature.bundle_uri))
    if spec.sbom is not None:
        out.append(("spec.sbom.uri", spec.sbom.uri))
    return out


def uris_safe(facts: ModelFacts) -> VerificationError | None:
    for _, uri in fetched_uris(facts.spec):
        problem = uri_problem(uri)
        if problem:
            return VerificationError(Reason.INVALID_SOURCE, problem)
    return None


def sources_allowed(facts: ModelFacts) -> VerificationError | None:
    assert facts.policy is not None
    prefixes = facts.policy.allowed_sources
    for where, uri in fetched_uris(facts.spec):
        if not source_allowed(uri, prefixes):
            return VerificationError(
                Reason.SOURCE_NOT_ALLOWED,
                f"{where}: {uri[:200]} is not under an allowed source of TrustPolicy {facts.spec.trust_policy!r}",
            )
    return None


PRE_VERIFICATION: tuple[Check, ...] = (uris_safe, policy_exists, policy_applies, sources_allowed)


def first_problem(facts: ModelFacts, checks: Sequence[Check] = PRE_VERIFICATION) -> VerificationError | None:
    return first_violation(checks, facts)


def missing_card_fields(spec: AIModelSpec, policy: TrustPolicySpec) -> list[str]:
    """Card fields the policy requires that are empty."""
    card = spec.card.model_dump(by_alias=True)
    return [name for name in policy.requirements.card_fields if not card.get(name)]


def missing_assurance(spec: AIModelSpec, policy: TrustPolicySpec, digest: str | None, now: datetime) -> list[str]:
    """Assurance evidence the policy requires that the model does not declare (or declares too old, or not for
    the digest being verified), one phrase each."""
    required = policy.requirements.assurance
    if not required:
        return []
    assurance = spec.assurance
    max_age = policy.requirements.assurance_max_age_days
    missing = []
    for name, document in (
        ("threatModel", assurance.threat_model if assurance else None),
        ("riskAssessment", assurance.risk_assessment if assurance else None),
    ):
        if name not in required:
            continue
        if document is None:
            missing.append(f"assurance.{name}")
        elif max_age is not None and now - document.reviewed() > timedelta(days=max_age):
            missing.append(f"assurance.{name} (reviewed {document.reviewed().date()}, older than {max_age} days)")
    if "vulnerabilityDisclosure" in required and not (assurance and assurance.vulnerability_disclosure):
        missing.append("assurance.vulnerabilityDisclosure")
    what = digest or "the verified digest"
    if "evaluation" in required and not (assurance and assurance.current_evaluations(digest)):
        missing.append(f"an evaluation of {what} that did not fail")
    if "redTeam" in required and not (assurance and assurance.current_evaluations(digest, ("RedTeam",))):
        missing.append(f"a RedTeam result for {what} that did not fail")
    return missing


def signer_still_trusted(record: VerifiedRecord, policy: TrustPolicySpec, now: datetime) -> bool:
    """What vouched for the verified bytes (a key, a CA, or a Sigstore identity that still names the recorded
    identity and issuer) is still in the policy under its id, not revoked, inside its window."""
    by = record.verified_by
    if by.trusted in policy.revoked_keys:
        return False
    anchors: Sequence[TrustedKey | TrustedCertificateAuthority | TrustedSigstoreIdentity]
    if by.method == "key":
        anchors = policy.keys
    elif by.method == "certificate":
        anchors = policy.certificate_authorities
    else:
        anchors = policy.sigstore_identities
    for anchor in anchors:
        if anchor.id != by.trusted:
            continue
        if isinstance(anchor, TrustedSigstoreIdentity):
            identity = TrustedIdentity(anchor.id, anchor.issuer, anchor.identity, anchor.identity_pattern)
            if not identity.names(by.subject, by.issuer):  # the policy's identity no longer names who signed
                return False
        return (anchor.not_before is None or anchor.not_before <= now) and (
            anchor.not_after is None or now <= anchor.not_after
        )
    return False


def as_verified(spec: AIModelSpec, record: VerifiedRecord) -> AIModelSpec:
    """The spec with the source and signature `record` was verified at. A deployment that keeps serving the last
    verified digest while the spec moves on (a new version that fails) must ship the signature that was
    verified, not the new one, or every new pod would fail its own verification."""
    return spec.model_copy(
        update={
            "source": spec.source.model_copy(update={"uri": record.source}),
            "signature": record.signature_ref.as_spec(),
        }
    )


def keeps_last_verified(
    reason: str, failed: AIModelSpec, record: VerifiedRecord | None, policy: TrustPolicySpec | None, now: datetime
) -> bool:
    """Whether a failure leaves the last verified digest trusted (deployments keep serving it).

    A new generation that fails on its own (another source, a bad new signature) leaves the last
    verified bytes trusted. A failure that speaks about those bytes does not: the policy no longer
    covers the model, the signer of the verified bytes is revoked or expired, or the very same source
    and signature failed again (tampering).
    """
    if record is None or policy is None or reason in POLICY_GONE:
        return False
    if not signer_still_trusted(record, policy, now):
        return False
    same = failed.source.uri == record.source and record.signature_ref.locates(failed.signature)
    return not same or reason in TRANSIENT
