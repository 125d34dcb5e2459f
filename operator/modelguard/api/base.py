"""Shared building blocks of the API: the strict base model, conditions, references, selectors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints
from pydantic.alias_generators import to_camel

GROUP = "modelguard.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

ConditionStatus = Literal["True", "False", "Unknown"]

# Kubernetes object names (RFC 1123 subdomain, as most kinds accept).
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


# Every string, list and map a tenant writes is bounded in the schema, so that the API server refuses an
# oversized object with the field's name, and an object always fits an admission review (old and new
# object together) well below the webhook server's 1 MiB request limit (tests/unit/test_crd_bounds.py).
Text = Annotated[str, StringConstraints(max_length=1024)]  # a free-text line: a limitation, an argument
LabelValue = Annotated[str, StringConstraints(max_length=63)]
LabelKey = Annotated[str, StringConstraints(max_length=317)]
Quantity = Annotated[str, StringConstraints(max_length=64)]
Identifier = Annotated[str, StringConstraints(max_length=253)]  # a key id, a name
SHA256 = Annotated[str, StringConstraints(max_length=71, pattern=r"^sha256:[a-f0-9]{64}$")]


def carries_credentials(uri: str) -> bool:
    """A user name or password in a URI's authority (https://user:secret@host/...)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(uri)
    return parts.username is not None or parts.password is not None


def lacks_host(uri: str) -> bool:
    """A network URI (https://, oci://) that names no host; a file:// URI names none (it is local, and the file
    provider refuses one that names a host)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(uri)
    return parts.scheme in ("https", "oci") and not parts.hostname


STRICT = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


def with_cel(*rules: tuple[str, str]) -> ConfigDict:
    """The strict config plus CEL rules (rule, message) that the API server itself enforces."""
    validations: list[JsonValue] = [{"rule": rule, "message": message} for rule, message in rules]
    return ConfigDict(**STRICT, json_schema_extra={"x-kubernetes-validations": validations})


def required_of_new_objects(*fields: str) -> ConfigDict:
    """The strict config of a model whose `fields` (camelCase) this release always writes and an older release
    did not: required here, so nothing new is written without them, but not in the CRD, so the API server keeps
    accepting what an older release stored. The operator upgrades such an object when it reads it (the one
    place: domain/verified_record.py)."""

    def not_required_on_the_wire(schema: dict[str, JsonValue]) -> None:
        required = schema.get("required")
        if isinstance(required, list):
            kept: list[JsonValue] = [name for name in required if name not in fields]
            if kept:
                schema["required"] = kept
            else:
                del schema["required"]

    return ConfigDict(**STRICT, json_schema_extra=not_required_on_the_wire)


class KubeModel(BaseModel):
    """Strict, immutable base: unknown fields are errors, names are camelCase on the wire."""

    model_config = STRICT

    def wire(self) -> dict[str, Any]:
        """The object as it travels to the API server (camelCase, no unset optionals)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Condition(KubeModel):
    """A standard Kubernetes condition (metav1.Condition)."""

    type: str = Field(description="Condition type in CamelCase, e.g. Ready or Verified.", max_length=316)
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        description="One CamelCase word saying why the condition has this status.",
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
    )
    message: str = Field(default="", description="Human-readable detail; never contains secrets.", max_length=32768)
    observed_generation: int | None = Field(
        default=None, description="The .metadata.generation the condition was computed for.", ge=0
    )
    last_transition_time: datetime = Field(description="When the status last changed (not the reason).")


def conditions_field() -> Any:
    """A `conditions` list keyed by type, as Kubernetes API conventions ask."""
    return Field(
        default_factory=list,
        description="Current state as standard conditions; Ready summarises the others.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


class LocalObjectReference(KubeModel):
    """A reference to an object in the same namespace as the referrer."""

    name: str = Field(
        description="Name of the object, in the referrer's namespace.", max_length=253, pattern=DNS_SUBDOMAIN
    )


class SecretKeyReference(KubeModel):
    """A key of a Secret in the same namespace as the referrer."""

    name: str = Field(description="Name of the Secret.", max_length=253, pattern=DNS_SUBDOMAIN)
    key: str = Field(description="Key inside the Secret's data.", max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class ConfigMapKeyReference(KubeModel):
    """A key of a ConfigMap in the same namespace as the referrer."""

    name: str = Field(description="Name of the ConfigMap.", max_length=253, pattern=DNS_SUBDOMAIN)
    key: str = Field(description="Key inside the ConfigMap's data.", max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class LabelSelectorRequirement(KubeModel):
    """One set-based label requirement (as metav1.LabelSelectorRequirement)."""

    key: str = Field(description="The label key the requirement applies to.", max_length=317)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(description="How key and values relate.")
    values: list[LabelValue] = Field(
        default_factory=list, description="Values for In and NotIn; empty otherwise.", max_length=64
    )


class LabelSelector(KubeModel):
    """A Kubernetes label selector; an empty selector matches everything."""

    match_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Labels that must all match exactly.", max_length=32
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, description="Set-based requirements that must all hold.", max_length=32
    )
