"""What a live pod template must keep to be called restricted (pure; issue 13, class 1).

ModelGuard builds restricted pods, but a status or report may claim only what the live object has: someone
with write access to the Deployment can add hostNetwork, a hostPath volume or `privileged: true`, fields
server-side apply leaves alone because another field manager owns them. `violations` lists each such
property of a live pod spec, as a path; an empty list is the only restricted answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ALLOWED_CAPABILITIES = {"NET_BIND_SERVICE"}  # the only one the restricted Pod Security level lets a pod add
SECCOMP = {"RuntimeDefault", "Localhost"}


def _container(where: str, c: Mapping[str, Any], pod_sc: Mapping[str, Any]) -> list[str]:
    sc = c.get("securityContext") or {}
    out = []
    if sc.get("privileged") is True:
        out.append(f"{where}.securityContext.privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(f"{where}.securityContext.allowPrivilegeEscalation")
    if sc.get("readOnlyRootFilesystem") is not True:
        out.append(f"{where}.securityContext.readOnlyRootFilesystem")
    caps = sc.get("capabilities") or {}
    if set(caps.get("add") or []) - ALLOWED_CAPABILITIES:
        out.append(f"{where}.securityContext.capabilities.add")
    if "ALL" not in (caps.get("drop") or []):
        out.append(f"{where}.securityContext.capabilities.drop")
    if not (sc.get("runAsNonRoot") is True or (pod_sc.get("runAsNonRoot") is True and "runAsNonRoot" not in sc)):
        out.append(f"{where}.securityContext.runAsNonRoot")
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        out.append(f"{where}.securityContext.runAsUser")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in SECCOMP:
        out.append(f"{where}.securityContext.seccompProfile")
    if any(p.get("hostPort") for p in c.get("ports") or []):
        out.append(f"{where}.ports.hostPort")
    return out


def violations(pod_spec: Mapping[str, Any]) -> list[str]:
    """Paths in a live pod spec that break the restricted level (or ModelGuard's read-only root file system)."""
    out = [f for f in ("hostNetwork", "hostPID", "hostIPC") if pod_spec.get(f) is True]
    out += [f"volumes[{v.get('name')}].hostPath" for v in pod_spec.get("volumes") or [] if "hostPath" in v]
    pod_sc = pod_spec.get("securityContext") or {}
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for c in pod_spec.get(group) or []:
            out += _container(f"{group}[{c.get('name')}]", c, pod_sc)
    return out


def template_violations(deployment: Mapping[str, Any]) -> list[str]:
    template = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return violations(template)
