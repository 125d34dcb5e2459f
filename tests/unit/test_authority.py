"""The authority rule (issue 27, ADR 0020): every tenant-writable field is classified, references are honoured
only under a stamp bound to the object and to the exact values authorised, a legal hold holds until cleared
by someone who may, scheduling only as an admin granted, approvals cover what runs and who reaches it."""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel

from modelguard.api.aideployment import AIDeploymentSpec, SchedulingSpec
from modelguard.api.aimodel import AIModelSpec
from modelguard.api.approval import ModelApprovalSpec
from modelguard.api.trustpolicy import SchedulingGrants
from modelguard.builders import workload
from modelguard.domain import approvals, authority, scheduling
from modelguard.domain.authority import AUTHORITY, FIELDS, HOLD, REFERENCES, Entry
from modelguard.domain.crypto import public_pem

ROOT = Path(__file__).resolve().parents[2]
PRIVATE = ec.generate_private_key(ec.SECP256R1())
PUBLIC = public_pem(PRIVATE.public_key())
NOW = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
TENANT_SPECS: dict[str, type[BaseModel]] = {
    "AIModel": AIModelSpec,
    "AIDeployment": AIDeploymentSpec,
    "ModelApproval": ModelApprovalSpec,
}


def leaves(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every leaf field of a spec model, as camelCase dotted paths (lists and optionals looked through)."""
    out = []
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name)
        nested: list[type[BaseModel]] = []
        stack: list[Any] = [field.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                nested.append(annotation)
            else:
                stack.extend(typing.get_args(annotation))
        if nested:
            for sub in nested:
                out += leaves(sub, path + ".")
        else:
            out.append(path)
    return out


def unclassified(kind: str, model: type[BaseModel]) -> list[str]:
    return [path for path in leaves(model) if authority.classify(kind, path) is None]


@pytest.mark.parametrize("kind", sorted(TENANT_SPECS))
def test_every_tenant_writable_field_says_how_the_operator_may_act_on_it(kind: str) -> None:
    """A new field in a tenant's spec fails here until someone decides whether it makes the operator act with its
    own rights, and how that is authorised (domain/authority.FIELDS and docs/security.md)."""
    assert unclassified(kind, TENANT_SPECS[kind]) == []


def test_the_guard_finds_a_new_field() -> None:
    class Sneaky(BaseModel):
        backup_secret_ref: str | None = None

    class WithNewField(AIDeploymentSpec):
        sneaky: Sneaky | None = None

    assert unclassified("AIDeployment", WithNewField) == ["sneaky.backup_secret_ref"]


def test_docs_list_every_field_the_operator_acts_on_and_how() -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    table = text[text.index("## References a tenant writes") :]
    for kind, fields in FIELDS.items():
        for path, (how, _text) in fields.items():
            if how == "inert":
                continue
            row = re.search(rf"^\| {kind} \| `spec\.{re.escape(path)}` \|([^\n]*)$", table, re.MULTILINE)
            assert row is not None, f"docs/security.md has no row for {kind} spec.{path}"
            assert how in row.group(1), f"the row for {kind} spec.{path} does not say it is authorised by {how}"


def test_every_reference_is_a_stamped_field() -> None:
    for reference in REFERENCES:
        assert authority.classify(reference.kind, reference.present) is not None
        assert authority.classify(reference.kind, reference.present)[0] == "stamp"  # type: ignore[index]
        assert reference.present in reference.covers or reference.present == "serviceAccountName"


def body(kind: str, spec: dict[str, Any], *, uid: str = "u-1", created: datetime = NOW, stamp: str | None = None):
    notes = {AUTHORITY: stamp} if stamp is not None else {}
    meta = {"name": "m", "namespace": "team-a", "uid": uid, "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"kind": kind, "metadata": {**meta, "annotations": notes}, "spec": spec}


MODEL = {"source": {"uri": "https://models.example/m", "credentialsSecretRef": {"name": "creds"}}}


def stamp_of(kind: str, spec: dict[str, Any], meta: dict[str, Any], by: str = "alice") -> str:
    entries = {r.entry: Entry(authority.covered(r, spec), by) for r in authority.references_of(kind, spec)}
    return authority.sign(PRIVATE, kind, meta, entries, NOW)


def test_a_stamp_issued_at_creation_binds_to_the_creation_time() -> None:
    stamp = stamp_of("AIModel", MODEL, {"name": "m", "namespace": "team-a"})  # no uid yet on a create
    assert authority.unauthorised("AIModel", body("AIModel", MODEL, stamp=stamp), PUBLIC) == []
    later = body("AIModel", MODEL, created=NOW + timedelta(minutes=5), stamp=stamp)  # re-created, stamp copied
    (reference, why), *_ = authority.unauthorised("AIModel", later, PUBLIC)
    assert reference.entry == "credentials" and "copied" in why


def test_a_stamp_issued_on_an_update_binds_to_the_uid() -> None:
    stamp = stamp_of("AIModel", MODEL, {"name": "m", "namespace": "team-a", "uid": "u-1"})
    assert authority.unauthorised("AIModel", body("AIModel", MODEL, stamp=stamp), PUBLIC) == []
    (_, why), *_ = authority.unauthorised("AIModel", body("AIModel", MODEL, uid="u-2", stamp=stamp), PUBLIC)
    assert "another object" in why


@pytest.mark.parametrize(
    "change",
    [
        {"source": {"uri": "https://models.example/m", "credentialsSecretRef": {"name": "sa-token"}}},
        {"source": {"uri": "https://evil.example/m", "credentialsSecretRef": {"name": "creds"}}},  # another origin
    ],
)
def test_a_reference_changed_since_it_was_authorised_is_not_honoured(change: dict[str, Any]) -> None:
    stamp = stamp_of("AIModel", MODEL, {"name": "m", "namespace": "team-a", "uid": "u-1"})
    problem = authority.not_honoured("AIModel", body("AIModel", change, stamp=stamp), PUBLIC, "credentials")
    assert problem is not None and "changed since" in problem


def test_stamps_that_are_missing_forged_or_for_another_object_are_not_honoured() -> None:
    meta = {"name": "m", "namespace": "team-a", "uid": "u-1"}
    good = stamp_of("AIModel", MODEL, meta)
    other_key = authority.sign(ec.generate_private_key(ec.SECP256R1()), "AIModel", meta, {}, NOW)
    tampered = good.replace('"by":"alice"', '"by":"mallory"')
    for stamp, expected in (
        (None, "no authority stamp"),
        ("{not json", "not JSON"),
        (other_key, "another key"),
        (tampered, "altered"),
        (stamp_of("AIModel", MODEL, {**meta, "name": "other"}), "another name"),
        (stamp_of("AIModel", MODEL, {**meta, "namespace": "team-b"}), "another namespace"),
        (stamp_of("AIDeployment", MODEL, meta), "another object"),
    ):
        problem = authority.not_honoured("AIModel", body("AIModel", MODEL, stamp=stamp), PUBLIC, "credentials")
        assert problem is not None and expected in problem, (expected, problem)
    assert authority.not_honoured("AIModel", body("AIModel", MODEL), None, "credentials") is not None  # no key


def test_a_spec_without_references_needs_no_stamp() -> None:
    assert authority.unauthorised("AIModel", body("AIModel", {"source": {"uri": "https://m/x"}}), PUBLIC) == []


def test_the_service_account_entry_covers_what_runs_as_it() -> None:
    """Item 5: a grant given for one image does not run another as the same account."""
    spec = {"modelRef": {"name": "m"}, "serviceAccountName": "ci", "runtime": {"image": "srv@sha256:" + "a" * 64}}
    meta = {"name": "m", "namespace": "team-a", "uid": "u-1"}
    stamp = stamp_of("AIDeployment", spec, meta)
    assert (
        authority.not_honoured("AIDeployment", body("AIDeployment", spec, stamp=stamp), PUBLIC, "serviceAccount")
        is None
    )
    for changed in (
        {**spec, "runtime": {"image": "evil@sha256:" + "b" * 64}},
        {**spec, "scheduling": {"tolerations": [{"operator": "Exists"}]}},
    ):
        problem = authority.not_honoured(
            "AIDeployment", body("AIDeployment", changed, stamp=stamp), PUBLIC, "serviceAccount"
        )
        assert problem is not None


def test_a_stamped_legal_hold_holds_until_cleared_by_someone_who_may() -> None:
    """Item 4: the tenant clears the hold in the spec (webhook in warn mode or bypassed): the hold holds."""
    held = {"endOfLife": {"legalHold": True}}
    meta = {"name": "m", "namespace": "team-a", "uid": "u-1"}
    stamp = authority.sign(PRIVATE, "AIModel", meta, {HOLD: Entry("held", "admin")}, NOW)
    assert authority.legal_hold(body("AIModel", held, stamp=stamp), PUBLIC) == "spec.endOfLife.legalHold"
    cleared = body("AIModel", {"endOfLife": {"legalHold": False}}, stamp=stamp)
    assert "set by admin" in (authority.legal_hold(cleared, PUBLIC) or "")
    assert authority.legal_hold(body("AIModel", {"endOfLife": {"legalHold": False}}), PUBLIC) is None
    # the stamp's hold entry after a change
    entry = Entry("held", "admin")
    assert authority.hold_entry(None, True, "tenant", False) == Entry("held", "tenant")  # anyone may set a hold
    assert authority.hold_entry(entry, False, "tenant", may_clear=False) == entry  # not cleared
    assert authority.hold_entry(entry, False, "admin", may_clear=True) is None  # cleared
    assert authority.hold_entry(entry, True, "tenant", False) == entry  # the setter stays


def test_refusals_name_the_requester_and_the_object_never_a_value() -> None:
    reference = next(r for r in REFERENCES if r.entry == "credentials")
    message = authority.refusal(reference, MODEL, "bob", "team-a")
    assert message.startswith("spec.source.credentialsSecretRef: bob may not get secrets 'creds' in 'team-a'")


def grants(**kw: Any) -> SchedulingGrants:
    return SchedulingGrants.model_validate(kw)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"tolerations": [{"operator": "Exists"}]}, "without a key"),
        ({"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]}, "control-plane"),
        ({"nodeSelector": {"node-role.kubernetes.io/control-plane": ""}}, "control-plane"),
        ({"nodeAffinity": {"required": [{"key": "node-role.kubernetes.io/master", "operator": "Exists"}]}}, "control"),
        ({"priorityClassName": "huge"}, "'huge' is not granted"),
        ({"runtimeClassName": "kata"}, "'kata' is not granted"),
        ({"tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoExecute"}]}, "'gpu' is not granted"),
        ({"nodeSelector": {"pool": "a"}}, "'pool' is not granted"),
    ],
)
def test_scheduling_needs_an_admins_grant_and_never_reaches_the_control_plane(
    spec: dict[str, Any], expected: str
) -> None:
    """Item 3: even a policy that grants everything else never lets a pod onto a control-plane node."""
    everything = grants(
        priorityClasses=["inference"],
        runtimeClasses=["nvidia"],
        nodeLabels=["node-role.kubernetes.io/control-plane", "gpu.present"],
        tolerations=[{"key": "node-role.kubernetes.io/control-plane"}, {"key": "gpu", "effect": "NoSchedule"}],
    )
    refused = scheduling.refusals(SchedulingSpec.model_validate(spec), everything)
    assert any(expected in r for r in refused), refused


def test_granted_scheduling_passes_and_nothing_is_granted_by_default() -> None:
    spec = SchedulingSpec.model_validate(
        {
            "nodeSelector": {"gpu.present": "true"},
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "priorityClassName": "inference",
            "runtimeClassName": "nvidia",
        }
    )
    granted = grants(
        priorityClasses=["inference"],
        runtimeClasses=["nvidia"],
        nodeLabels=["gpu.present"],
        tolerations=[{"key": "gpu"}],
    )
    assert scheduling.refusals(spec, granted) == []
    assert len(scheduling.refusals(spec, None)) == 4


def test_every_model_server_keeps_off_control_plane_nodes() -> None:
    spec = AIDeploymentSpec.model_validate({"modelRef": {"name": "m"}, "runtime": {"image": "s@sha256:" + "a" * 64}})
    terms = workload.scheduling(spec)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    expressions = terms["nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"} in expressions
    assert {"key": "node-role.kubernetes.io/master", "operator": "DoesNotExist"} in expressions


APPROVED = {"modelRef": {"name": "m"}, "runtime": {"image": "s@sha256:" + "a" * 64}}


@pytest.mark.parametrize(
    "change",
    [
        {"runtime": {**APPROVED["runtime"], "args": ["--trust-remote-code"]}},
        {"scheduling": {"tolerations": [{"key": "gpu", "operator": "Exists"}]}},
        {"access": {"egress": [{"cidr": "0.0.0.0/0"}]}},
        {"access": {"allowedClients": [{"namespaceSelector": {}}]}},
        {"serviceAccountName": "ci"},
        {"rateLimit": {"requestsPerSecond": 100000}},
    ],
)
def test_an_approval_covers_what_runs_and_who_reaches_it(change: dict[str, Any]) -> None:
    """Item 6: any change of what runs or who can reach it needs new approvals."""
    assert approvals.approved_spec({**APPROVED, **change}) != approvals.approved_spec(APPROVED)


def test_an_approval_survives_changes_that_alter_neither() -> None:
    assert approvals.approved_spec({**APPROVED, "approval": {"required": 2}}) == approvals.approved_spec(APPROVED)
    assert approvals.approved_spec({**APPROVED, "replicas": 1}) == approvals.approved_spec(APPROVED)  # a default


def test_only_a_spec_change_or_a_persons_request_asks_for_authority() -> None:
    """The operator's own writes (finalizers, labels) never authorise a reference on its rights: they only
    carry entries over."""
    old = body("AIModel", MODEL)
    finalizer = {**old, "metadata": {**old["metadata"], "finalizers": ["modelguard.io/decommission"]}}
    assert not authority.asks_for_authority(finalizer, old)
    assert authority.asks_for_authority(body("AIModel", {"source": {"uri": "https://other/m"}}), old)
    asked = {**old, "metadata": {**old["metadata"], "annotations": {authority.REAUTHORISE: "2026-12-08"}}}
    assert authority.asks_for_authority(asked, old)
    assert not authority.asks_for_authority(asked, asked)
