"""What an AIDeployment should do about its model right now (pure).

Policy, documented in docs/adr/0004-serving-when-a-model-stops-being-verified.md:
- roll out only a digest verified for the model's current generation;
- a newer generation that is not (yet) verified leaves a running deployment on the last verified
  digest, as long as the model still trusts it;
- when the model no longer trusts any digest (key revoked or expired, tampering found, policy gone,
  model deleted) a running deployment is quarantined (scaled to zero) if the model's
  maintenance.onFailure is Quarantine, or keeps running with a warning if it is Report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelguard.api.aimodel import AIModelSpec, AIModelStatus
from modelguard.domain.conditions import Verdict, find
from modelguard.domain.model_checks import TRANSIENT

Action = Literal["Rollout", "Hold", "Keep", "Quarantine"]


@dataclass(frozen=True)
class Decision:
    action: Action
    digest: str | None
    reason: str
    message: str

    def verdicts(self) -> list[Verdict]:
        model_ok = self.action == "Rollout"
        return [
            Verdict(
                "ModelVerified",
                "True" if model_ok else "False",
                "ModelVerified" if model_ok else self.reason,
                self.message,
            ),
            Verdict(
                "Quarantined",
                "True" if self.action == "Quarantine" else "False",
                self.reason if self.action == "Quarantine" else "NotQuarantined",
                self.message if self.action == "Quarantine" else "serving normally or waiting",
            ),
        ]


@dataclass(frozen=True)
class ModelView:
    """The model as the deployment sees it."""

    spec: AIModelSpec | None
    status: AIModelStatus
    generation: int
    warn_only: bool = False


def decide(model: ModelView | None, model_name: str, served_digest: str | None) -> Decision:
    serving = served_digest is not None
    if model is None or model.spec is None:
        message = f"AIModel {model_name!r} does not exist"
        return _lost(serving, "ModelNotFound", message, on_failure="Quarantine", served=served_digest)
    verified = find(model.status.conditions, "Verified")
    documented = find(model.status.conditions, "Documented")
    record = model.status.verified
    current = verified is not None and verified.observed_generation == model.generation
    if current and verified is not None and verified.status == "True" and record is not None:
        if documented is not None and documented.status == "False" and not model.warn_only:
            return _hold_or_keep(serving, served_digest, documented.reason, documented.message)
        return Decision(
            "Rollout", record.digest, "ModelVerified", f"serving {record.digest} (signed by {record.signer})"
        )
    if not current or verified is None:
        return _hold_or_keep(
            serving, served_digest, "WaitingForModel", f"AIModel {model_name!r} has not been verified yet"
        )
    reason = verified.reason
    message = f"AIModel {model_name!r} is not verified ({reason}): {verified.message}"
    if reason in TRANSIENT:
        return _hold_or_keep(serving, served_digest, "ModelNotVerified", message)
    if record is not None and serving and served_digest == record.digest:
        return Decision(
            "Keep",
            served_digest,
            "ServingLastVerified",
            f"{message}; still serving the last verified digest {record.digest}",
        )
    return _lost(serving, "ModelNotVerified", message, model.spec.maintenance.on_failure, served_digest)


def _hold_or_keep(serving: bool, served: str | None, reason: str, message: str) -> Decision:
    if serving:
        return Decision("Keep", served, reason, f"{message}; still serving {served}")
    return Decision("Hold", None, reason, message)


def _lost(serving: bool, reason: str, message: str, on_failure: str, served: str | None) -> Decision:
    if not serving:
        return Decision("Hold", None, reason, message)
    if on_failure == "Quarantine":
        return Decision("Quarantine", served, reason, f"{message}; quarantined: scaled to zero")
    return Decision("Keep", served, reason, f"{message}; still serving {served} (onFailure: Report)")
