"""Reading credentials and key material from Secrets and ConfigMaps.

Values are returned to the caller and never logged, put in Events, status or exception messages.
Model credentials come only from the AIModel's own namespace; policy keys only from the operator's.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from modelguard.adapters.kube import Kube
from modelguard.adapters.resources import CONFIGMAPS, SECRETS
from modelguard.api import trustpolicy as api
from modelguard.api.condition_reasons import Reason
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain.credentials import Credentials, Origin, Refusal, read_secret
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.trust import Anchor, TrustedCA, TrustedIdentity, TrustedKey


def _decode(secret: dict[str, Any], key: str) -> bytes | None:
    value = (secret.get("data") or {}).get(key)
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


async def source_credentials(kube: Kube, namespace: str, name: str, origin: Origin | None) -> Credentials:
    """The credentials a Secret in `namespace` holds for a source on `origin` (domain/credentials.read_secret
    decides which Secrets hold any: a ServiceAccount's token, say, is refused, CredentialsRefused). The pods read
    their Secret volume by the same rule from the same bytes (adapters/fetch.mounted_credentials)."""
    secret = await kube.get(SECRETS, namespace, name)
    if secret is None:
        raise Retry(Reason.CREDENTIALS_NOT_FOUND, f"Secret {name!r} does not exist in namespace {namespace!r}")
    data: dict[str, bytes] = {}
    for key in secret.get("data") or {}:
        value = _decode(secret, key)
        if value is None:
            raise VerificationError(Reason.INVALID_CREDENTIALS, f"Secret {name!r}: {key} is not base64")
        data[key] = value
    read = read_secret(name, str(secret.get("type") or ""), data, origin)
    if isinstance(read, Refusal):
        raise VerificationError(read.reason, read.message)
    return read


async def policy_keys(kube: Kube, operator_namespace: str, policy: TrustPolicySpec) -> list[Anchor]:
    """The policy's trust anchors: keys and certificate authorities (TrustedCA), with PEMs resolved (inline or
    from Secrets in the operator's namespace; one whose Secret is missing is left out, the TrustPolicy's status
    reports it), and Sigstore identities."""
    revoked = set(policy.revoked_keys)
    anchors: list[Anchor] = [
        TrustedIdentity(i.id, i.issuer, i.identity, i.identity_pattern, i.not_before, i.not_after, i.id in revoked)
        for i in policy.sigstore_identities
    ]
    declared: list[tuple[type[TrustedKey], api.TrustedKey | api.TrustedCertificateAuthority, str | None]] = [
        *((TrustedKey, k, k.public_key) for k in policy.keys),
        *((TrustedCA, c, c.certificates) for c in policy.certificate_authorities),
    ]
    for kind, anchor, inline in declared:
        pem: bytes | None
        if inline is not None:
            pem = inline.encode()
        else:
            assert anchor.secret_ref is not None
            secret = await kube.get(SECRETS, operator_namespace, anchor.secret_ref.name)
            pem = _decode(secret, anchor.secret_ref.key) if secret else None
        if pem is not None:
            anchors.append(kind(anchor.id, pem, anchor.not_before, anchor.not_after, anchor.id in revoked))
    return anchors


async def sigstore_trust_config(kube: Kube, operator_namespace: str, policy: TrustPolicySpec) -> bytes | None:
    """A private Sigstore's client trust configuration named by the policy (a ConfigMap in the operator's
    namespace), or None for the public-good trust root. A policy naming one that is missing verifies nothing
    keyless (fail closed) until it exists."""
    ref = policy.sigstore_trust_config
    if ref is None:
        return None
    cm = await kube.get(CONFIGMAPS, operator_namespace, ref.name)
    value = ((cm or {}).get("data") or {}).get(ref.key)
    if value is None:
        raise Retry(
            Reason.SIGNER_NOT_FOUND,
            f"the Sigstore trust configuration ConfigMap {ref.name!r} (key {ref.key!r}) is not in "
            f"{operator_namespace!r}",
        )
    return str(value).encode()


async def configmap_value(kube: Kube, namespace: str, name: str, key: str) -> bytes:
    cm = await kube.get(CONFIGMAPS, namespace, name)
    if cm is None:
        raise Retry(Reason.SIGNATURE_NOT_FOUND, f"ConfigMap {name!r} does not exist in namespace {namespace!r}")
    if key in (cm.get("binaryData") or {}):
        return base64.b64decode(cm["binaryData"][key])
    if key in (cm.get("data") or {}):
        return str(cm["data"][key]).encode()
    raise VerificationError(Reason.SIGNATURE_NOT_FOUND, f"ConfigMap {name!r} has no key {key!r}")
