"""The one table of the kinds ModelGuard reads, watches or writes: API version, kind, plural, scope (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from modelguard.api.base import API_VERSION


@dataclass(frozen=True)
class Resource:
    """A resource type and how to address it."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{name}"
        if subresource is not None:
            base += f"/{subresource}"
        return base


# ModelGuard's own kinds
AIMODELS = Resource(API_VERSION, "AIModel", "aimodels")
AIDEPLOYMENTS = Resource(API_VERSION, "AIDeployment", "aideployments")
TRUSTPOLICIES = Resource(API_VERSION, "TrustPolicy", "trustpolicies", namespaced=False)
MODELAPPROVALS = Resource(API_VERSION, "ModelApproval", "modelapprovals")
SCANREPORTS = Resource(API_VERSION, "ScanReport", "scanreports")
CERTIFICATES = Resource(API_VERSION, "DecommissionCertificate", "decommissioncertificates", namespaced=False)
COMPLIANCE_REPORTS = Resource(API_VERSION, "ComplianceReport", "compliancereports", namespaced=False)
# Kubernetes kinds
NAMESPACES = Resource("v1", "Namespace", "namespaces", namespaced=False)
EVENTS = Resource("events.k8s.io/v1", "Event", "events")
CRDS = Resource("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False)
SECRETS = Resource("v1", "Secret", "secrets")
CONFIGMAPS = Resource("v1", "ConfigMap", "configmaps")
SERVICES = Resource("v1", "Service", "services")
SERVICEACCOUNTS = Resource("v1", "ServiceAccount", "serviceaccounts")
DEPLOYMENTS = Resource("apps/v1", "Deployment", "deployments")
NETWORKPOLICIES = Resource("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies")
PVCS = Resource("v1", "PersistentVolumeClaim", "persistentvolumeclaims")
PODS = Resource("v1", "Pod", "pods")  # read as metadata only, to attribute gateway refusals (ADR 0018)

WATCHED = (AIMODELS, AIDEPLOYMENTS, TRUSTPOLICIES, MODELAPPROVALS, COMPLIANCE_REPORTS)  # whole objects, cached
CHILDREN = (DEPLOYMENTS, SERVICES, SERVICEACCOUNTS, CONFIGMAPS, SECRETS, NETWORKPOLICIES)  # what AIDeployments own
DATA = (PVCS, SECRETS, CONFIGMAPS)  # tenant data a decommission may delete (endOfLife.dataRefs)

BY_KIND = {r.kind: r for r in (*WATCHED, SCANREPORTS, CERTIFICATES, NAMESPACES, EVENTS, CRDS, *CHILDREN, PVCS)}
BY_CHILD_KIND = {r.kind: r for r in CHILDREN}
DATA_KINDS = {r.kind: r for r in DATA}
