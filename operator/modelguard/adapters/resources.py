"""Resource types the operator reads or writes."""

from __future__ import annotations

from modelguard.adapters.kube import Resource
from modelguard.api.base import API_VERSION

AIMODELS = Resource(API_VERSION, "AIModel", "aimodels")
AIDEPLOYMENTS = Resource(API_VERSION, "AIDeployment", "aideployments")
TRUSTPOLICIES = Resource(API_VERSION, "TrustPolicy", "trustpolicies", namespaced=False)
NAMESPACES = Resource("v1", "Namespace", "namespaces", namespaced=False)
EVENTS = Resource("events.k8s.io/v1", "Event", "events")
CRDS = Resource("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False)

BY_KIND = {r.kind: r for r in (AIMODELS, AIDEPLOYMENTS, TRUSTPOLICIES)}
SECRETS = Resource("v1", "Secret", "secrets")
CONFIGMAPS = Resource("v1", "ConfigMap", "configmaps")
SERVICES = Resource("v1", "Service", "services")
SERVICEACCOUNTS = Resource("v1", "ServiceAccount", "serviceaccounts")
DEPLOYMENTS = Resource("apps/v1", "Deployment", "deployments")
NETWORKPOLICIES = Resource("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies")

BY_CHILD_KIND = {r.kind: r for r in (SECRETS, CONFIGMAPS, SERVICES, SERVICEACCOUNTS, DEPLOYMENTS, NETWORKPOLICIES)}
SCANREPORTS = Resource(API_VERSION, "ScanReport", "scanreports")
PVCS = Resource("v1", "PersistentVolumeClaim", "persistentvolumeclaims")
CERTIFICATES = Resource(API_VERSION, "DecommissionCertificate", "decommissioncertificates", namespaced=False)
DATA_KINDS = {"PersistentVolumeClaim": PVCS, "Secret": SECRETS, "ConfigMap": CONFIGMAPS}
