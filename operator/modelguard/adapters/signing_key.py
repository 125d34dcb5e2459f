"""The operator's own signing key (for DecommissionCertificates): a Secret in its namespace, made at
first start; its public half is published in a ConfigMap so that anyone can verify certificates."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric import ec

from modelguard.adapters.kube import Kube, KubeError
from modelguard.adapters.resources import CONFIGMAPS, SECRETS
from modelguard.domain import crypto

SECRET = "modelguard-signing-key"  # noqa: S105 (a Secret name, not a secret)
PUBLIC = "modelguard-signing-public-key"
PUBLIC_KEY = "public.pem"  # its key in that ConfigMap


class OperatorKey:
    def __init__(self, kube: Kube, namespace: str) -> None:
        self._kube = kube
        self._namespace = namespace
        self._key: ec.EllipticCurvePrivateKey | None = None

    async def get(self) -> ec.EllipticCurvePrivateKey:
        if self._key is None:
            self._key = await self._load_or_create()
        return self._key

    async def _load_or_create(self) -> ec.EllipticCurvePrivateKey:
        secret = await self._kube.get(SECRETS, self._namespace, SECRET)
        if secret is None:
            key = crypto.generate("p256")
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {
                    "name": SECRET,
                    "namespace": self._namespace,
                    "labels": {"app.kubernetes.io/part-of": "modelguard"},
                },
                "data": {"private.pem": base64.b64encode(crypto.private_pem(key)).decode()},
            }
            try:
                await self._kube.create(SECRETS, body)
            except KubeError as exc:
                if not exc.conflict:
                    raise
                return await self._load_or_create()  # another replica won the race
        else:
            key = crypto.load_private_key(base64.b64decode(secret["data"]["private.pem"]))
        await self._publish(key)
        return key

    async def _publish(self, key: ec.EllipticCurvePrivateKey) -> None:
        pem = crypto.public_pem(key.public_key()).decode()
        await self._kube.apply(
            CONFIGMAPS,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": PUBLIC,
                    "namespace": self._namespace,
                    "labels": {"app.kubernetes.io/part-of": "modelguard"},
                },
                "data": {PUBLIC_KEY: pem},
            },
        )
