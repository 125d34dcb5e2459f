"""Publishing signed models for integration tests: on disk (file://), over HTTPS and to a registry."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.models import KeyPair, sign, write_model

KEY_ID = "publisher-2026"


@dataclass
class Published:
    model: Path
    signature: Path

    @property
    def source(self) -> str:
        return f"file://{self.model}"

    @property
    def bundle(self) -> str:
        return f"file://{self.signature}"


def publish(
    root: Path,
    namespace: str,
    name: str,
    key: KeyPair,
    *,
    shard_size: int | None = None,
    tamper: Callable[[Path], None] | None = None,
    mangle: Callable[[bytes], bytes] | None = None,
) -> Published:
    """Write a model under root/namespace/name, sign it, then optionally tamper with either."""
    directory = root / namespace
    model = directory / name
    if model.exists():
        shutil.rmtree(model)
    write_model(model, seed=len(name))
    bundle = sign(model, key, shard_size=shard_size)
    if tamper is not None:
        tamper(model)
    if mangle is not None:
        bundle = mangle(bundle)
    signature = directory / f"{name}.sig"
    signature.write_bytes(bundle)
    return Published(model, signature)


def policy(name: str, namespace: str, key: KeyPair, allowed: list[str], **spec: Any) -> dict[str, Any]:
    """A TrustPolicy trusting `key` for exactly one namespace."""
    return {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "TrustPolicy",
        "metadata": {"name": name},
        "spec": {
            "keys": [{"id": KEY_ID, "publicKey": key.public_pem.decode()}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "allowedSources": allowed,
            **spec,
        },
    }


def model(name: str, source: str, bundle: str, policy_name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelguard.io/v1alpha1",
        "kind": "AIModel",
        "metadata": {"name": name},
        "spec": {
            "version": "1.0.0",
            "source": {"uri": source},
            "signature": {"bundleUri": bundle},
            "trustPolicy": policy_name,
            "card": {"owner": "ml@example.com", "intendedUse": "tests"},
            **spec,
        },
    }


def as_json(obj: dict[str, Any]) -> str:
    return json.dumps(obj)


def push_to_registry(registry: Any, pub: Published, repo: str) -> tuple[str, str]:
    """Push a published model (one layer per file, titled) and its signature (a bundle layer) to an OCI
    registry; returns the oci:// URIs of both, pinned by manifest digest."""
    files = {str(p.relative_to(pub.model)): p.read_bytes() for p in sorted(pub.model.rglob("*")) if p.is_file()}
    digest = registry.push_model(repo, files)
    sig = registry.push_model(
        f"{repo}-sig",
        {"model.sig": pub.signature.read_bytes()},
        layer_type="application/vnd.dev.sigstore.bundle.v0.3+json",
    )
    return f"oci://{registry.host}/{repo}@{digest}", f"oci://{registry.host}/{repo}-sig@{sig}"
