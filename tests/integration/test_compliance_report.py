"""The ComplianceReport the operator keeps current (issue 19, item 3), against a real API server: generated
at once, regenerated after a relevant change (no sooner than its gap) with a history, metrics per phase,
scoped to its namespace so another team's objects change nothing in it, and out of a tenant's reach."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from tests.harness.client import KubeTestClient, condition, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane, grant
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy, publish
from tests.harness.samples import ai_deployment

KEY = KeyPair.generate()


def test_the_report_is_regenerated_after_changes_with_its_history_and_metrics(
    cluster: ControlPlane,
    api: KubeTestClient,
    operator: OperatorProcess,
    namespace: str,
    models_root: Path,
) -> None:
    other = f"{namespace[:50]}-other"
    cluster.kubectl("create", "namespace", other)
    name = f"p-{namespace}"
    report = f"r-{namespace}"[:63]
    api.create("trustpolicies", None, policy(name, namespace, KEY, [f"file://{models_root}/"]))
    api.create("trustpolicies", None, policy(f"{name}-o"[:63], other, KEY, [f"file://{models_root}/"]))
    try:
        good = publish(models_root, namespace, "good", KEY)
        api.create("aimodels", namespace, model("good", good.source, good.bundle, name))
        api.create("aideployments", namespace, ai_deployment("svc", "good"))
        wait_for_condition(api, "aideployments", namespace, "svc", "PolicyEnforced", "True")
        body = {
            "apiVersion": "modelguard.io/v1alpha1",
            "kind": "ComplianceReport",
            "metadata": {"name": report},
            "spec": {"namespace": namespace, "intervalMinutes": 60, "minimumGapSeconds": 10},
        }
        api.create("compliancereports", None, body)

        def generated(entries: int) -> dict[str, Any] | None:
            found = api.get("compliancereports", None, report)
            status = found.get("status") or {}
            return found if len(status.get("history") or []) >= entries else None

        first = eventually(lambda: generated(1), timeout=60, what="the first report")["status"]
        ready = condition({"status": first}, "Ready")
        assert ready is not None and (ready["status"], ready["reason"]) == ("True", "ReportGenerated")
        assert sum(first["summary"].values()) == 72 and "5.2.1-2" not in first["notMet"]
        assert [p["phase"] for p in first["byPhase"]][-1] == "Secure End of Life" and len(first["byPrinciple"]) == 13

        # another team's broken model: the report of this namespace is regenerated after the change but says
        # the same (scope)
        unsigned = publish(models_root, other, "theirs", KeyPair.generate())
        api.create("aimodels", other, model("theirs", unsigned.source, unsigned.bundle, f"{name}-o"[:63]))
        second = eventually(lambda: generated(2), timeout=60, what="a regeneration after the change")["status"]
        assert second["summary"] == first["summary"] and second["notMet"] == first["notMet"]

        # this team's tampered model: not met, and the history shows the change
        api.create("aimodels", namespace, model("tampered", good.source, good.bundle + ".missing", name))
        wait_for_condition(api, "aimodels", namespace, "tampered", "Verified", "False")
        try:
            third = eventually(
                lambda: (r := generated(3)) and "5.2.1-2" in r["status"]["notMet"] and r, timeout=60, what="not met"
            )["status"]
        except AssertionError:
            seen = api.get("compliancereports", None, report).get("status") or {}
            raise AssertionError(f"report status: {json.dumps(seen)[:3000]}") from None
        history = third["history"]
        assert history[-1]["notMet"] > history[0]["notMet"] and "5.2.1" in history[-1]["principlesNotMet"]
        assert history[0]["at"] < history[-1]["at"]

        assert operator.metrics_url is not None
        text = urllib.request.urlopen(operator.metrics_url, timeout=10).read().decode()
        line = f'modelguard_compliance_provisions{{phase="Secure Development",report="{report}",status="not met"}}'
        assert line in text and float(text.split(line)[1].split()[0]) >= 1

        # a tenant with full rights in its namespace can neither create nor change a report
        grant(cluster, namespace, "mallory", ["aimodels", "aideployments"])
        forged = {**body, "metadata": {"name": f"{report[:55]}-forged"}}
        created = cluster.kubectl("create", "--as", "mallory", "-f", "-", stdin=json.dumps(forged), check=False)
        assert created.returncode != 0 and "forbidden" in created.stderr.lower()
        patched = cluster.kubectl(
            "patch", "compliancereport", report, "--as", "mallory", "--type", "merge",
            "-p", json.dumps({"spec": {"namespace": other}}), check=False,
        )  # fmt: skip
        assert patched.returncode != 0 and "forbidden" in patched.stderr.lower()
        assert api.get("compliancereports", None, report)["spec"]["namespace"] == namespace
    finally:
        api.delete("compliancereports", None, report)
        api.delete("trustpolicies", None, name)
        api.delete("trustpolicies", None, f"{name}-o"[:63])
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)
