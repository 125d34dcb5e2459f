"""One reading of a TrustPolicy for admission and every reconciler, with one failure rule (pure).

A TrustPolicy that does not exist, or whose spec cannot be read, trusts nothing: no key and no source;
nothing verifies under it (a model's verification record is dropped, so its deployments quarantine),
no approval requirement can be met, and `Warn` mode does not apply. The reason says which of the two
it is (`TrustPolicyNotFound`, `TrustPolicyInvalid`), never the other. Admission denies an AIModel that
names an invalid policy and warns about a missing one (GitOps tools apply the policy and the model in
either order; the model waits until the policy exists).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from modelguard.api.condition_reasons import Reason
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain.errors import VerificationError

NOT_FOUND = Reason.TRUST_POLICY_NOT_FOUND
INVALID = Reason.TRUST_POLICY_INVALID


@dataclass(frozen=True)
class PolicyReading:
    name: str
    spec: TrustPolicySpec | None  # None: missing or unreadable (reason says which)
    reason: str = Reason.VALID
    message: str = ""

    @property
    def usable(self) -> bool:
        return self.spec is not None

    @property
    def warn_only(self) -> bool:
        """`mode: Warn` of a readable policy; an unusable one enforces (fail closed)."""
        return self.spec is not None and self.spec.mode == "Warn"

    def problem(self) -> VerificationError:
        assert self.spec is None, "a usable policy has no problem"
        return VerificationError(self.reason, self.message)


def read_policy(name: str, body: Mapping[str, Any] | None) -> PolicyReading:
    if body is None:
        return PolicyReading(name, None, NOT_FOUND, f"TrustPolicy {name!r} does not exist")
    try:
        return PolicyReading(name, TrustPolicySpec.model_validate(body.get("spec") or {}))
    except ValidationError as exc:
        where = "; ".join(
            ".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors(include_url=False)[:3]
        )
        return PolicyReading(name, None, INVALID, f"TrustPolicy {name!r} cannot be read ({where})")
