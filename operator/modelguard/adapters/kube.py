"""The Kubernetes adapter: the only code that talks to the API server.

JSON over HTTPS with urllib3 (what the official client uses underneath, without its API model classes, which
cost the operator ~45 MiB: docs/adr/0016-operator-memory.md): calls run in worker threads so the event loop
never blocks, writes use server-side apply under one field manager, and errors come back as typed
exceptions whose messages never carry request bodies.
"""

from __future__ import annotations

import asyncio
import functools
import json
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import urllib3

from modelguard.adapters.kube_connection import Connection
from modelguard.api.kinds import Resource

__all__ = ["FIELD_MANAGER", "Kube", "KubeError", "Resource", "may"]

FIELD_MANAGER = "modelguard"


class KubeError(Exception):
    """An API call failed; `status` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


def _error(status: int, reason: str, payload: bytes) -> KubeError:
    """The API's Status object names the reason and says what was wrong; never echo anything else."""
    message = ""
    try:
        parsed = json.loads(payload or b"{}")
        if isinstance(parsed, dict):
            reason = str(parsed.get("reason") or reason)
            message = str(parsed.get("message") or "")
    except ValueError:
        message = ""
    return KubeError(status, reason, message)


API_THREADS = 16


class Kube:
    """Async access to the API server for the operator, its CLI and its tests."""

    def __init__(
        self,
        connection: Connection,
        field_manager: str = FIELD_MANAGER,
        timeout: float = 30.0,
        observe: Callable[[str, str], None] | None = None,
    ) -> None:
        self.connection = connection
        self._server = connection.server.rstrip("/")
        self._field_manager = field_manager
        self._timeout = timeout
        self.observe = observe  # (verb, path) of every request, for metrics
        # urllib3's default retries, as the official client had them: reads are retried on connection errors and
        # on 429/503 with Retry-After (the API server says so while a new resource's storage initialises)
        self._http = urllib3.PoolManager(num_pools=2, maxsize=API_THREADS, ssl_context=connection.ssl_context())
        # API calls have threads of their own: nothing else (a slow source, the audit sink) can hold them
        self._pool = ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="kube")

    def call(
        self,
        method: str,
        path: str,
        *,
        body: object | None = None,
        query: Sequence[tuple[str, str]] = (),
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> dict[str, Any]:
        """One request, blocking (the async methods run it in a worker thread)."""
        url = self._server + path + (f"?{urllib.parse.urlencode(list(query))}" if query else "")
        headers = {"Accept": accept, "Content-Type": content_type}
        token = self.connection.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        try:
            response = self._http.request(
                method, url, body=payload, headers=headers, timeout=self._timeout, preload_content=True
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, reset, timed out, TLS errors
            raise KubeError(0, "Unreachable", type(exc).__name__) from None
        if response.status >= 400:
            raise _error(response.status, str(response.reason or ""), response.data)
        return cast("dict[str, Any]", json.loads(response.data) if response.data else {})

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: object | None = None,
        query: Sequence[tuple[str, str]] = (),
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> dict[str, Any]:
        if self.observe is not None:
            self.observe(method, path)
        call = functools.partial(
            self.call, method, path, body=body, query=query, content_type=content_type, accept=accept
        )
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def get(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return await self.request("GET", res.path(namespace, name))
        except KubeError as exc:
            if exc.not_found:
                return None
            raise

    async def list(
        self, res: Resource, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        query = [("labelSelector", label_selector)] if label_selector else []
        result = await self.request("GET", res.path(namespace), query=query)
        return list(result.get("items", []))

    async def apply(self, res: Resource, obj: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply under the operator's field manager (conflicts are forced: we own these)."""
        meta = obj["metadata"]
        query = [("fieldManager", self._field_manager), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        return await self.request(
            "PATCH",
            res.path(meta.get("namespace"), meta["name"]),
            body=dict(obj),
            query=query,
            content_type="application/apply-patch+yaml",
        )

    async def replace(self, res: Resource, obj: Mapping[str, Any]) -> dict[str, Any]:
        """PUT the whole object (its metadata.resourceVersion is the precondition): unlike server-side apply,
        this removes fields other field managers added."""
        meta = obj["metadata"]
        return await self.request(
            "PUT",
            res.path(meta.get("namespace"), meta["name"]),
            body=dict(obj),
            query=[("fieldManager", self._field_manager)],
        )

    async def patch_status(
        self, res: Resource, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch the status subresource."""
        return await self.request(
            "PATCH",
            res.path(namespace, name, "status"),
            body={"status": dict(status)},
            content_type="application/merge-patch+json",
        )

    async def merge_patch(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        """JSON merge patch; a `metadata.resourceVersion` in the patch is a precondition (409 when stale)."""
        query = [("fieldManager", field_manager or self._field_manager)]
        return await self.request(
            "PATCH",
            res.path(namespace, name),
            body=dict(patch),
            query=query,
            content_type="application/merge-patch+json",
        )

    async def json_patch(self, res: Resource, namespace: str | None, name: str, ops: Sequence[dict[str, Any]]) -> None:
        await self.request(
            "PATCH", res.path(namespace, name), body=list(ops), content_type="application/json-patch+json"
        )

    async def create(self, res: Resource, obj: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("POST", res.path(obj["metadata"].get("namespace")), body=dict(obj))

    async def delete(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
        uid: str | None = None,
    ) -> bool:
        """Delete; False when it was already gone (success either way). Background propagation by default:
        Foreground leaves the object until the garbage collector has removed its dependents. With `uid`,
        only that very object (409 when the name now belongs to another)."""
        body: dict[str, Any] = {"propagationPolicy": propagation}
        if uid is not None:
            body["preconditions"] = {"uid": uid}
        try:
            await self.request("DELETE", res.path(namespace, name), body=body)
        except KubeError as exc:
            if exc.not_found:
                return False
            raise
        return True


async def may(
    kube: Kube,
    user: str,
    groups: list[str],
    verb: str,
    resource: str,
    namespace: str,
    name: str,
    group: str = "",
    subresource: str = "",
) -> tuple[bool, str]:
    """SubjectAccessReview: may this user do this? (allowed, reason)."""
    review = await kube.request(
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        body={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "groups": groups,
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    "subresource": subresource,
                    "name": name,
                },
            },
        },
    )
    status = review.get("status") or {}
    return bool(status.get("allowed")), str(status.get("reason") or "")
