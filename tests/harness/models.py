"""Small real models on disk, signed with real keys (for tests, the demo and benchmarks)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from modelguard.adapters.hashing import hash_model
from modelguard.domain import crypto
from modelguard.domain.statement import DEFAULT_IGNORES, Resource, Serialization, build_bundle, build_statement


@dataclass
class KeyPair:
    private_pem: bytes
    public_pem: bytes

    @classmethod
    def generate(cls, curve: crypto.Curve = "p256") -> KeyPair:
        key = crypto.generate(curve)
        return cls(crypto.private_pem(key), crypto.public_pem(key.public_key()))

    def write(self, directory: Path, stem: str = "key") -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        priv, pub = directory / f"{stem}.private.pem", directory / f"{stem}.pem"
        priv.write_bytes(self.private_pem)
        pub.write_bytes(self.public_pem)
        return priv, pub


def write_model(root: Path, files: dict[str, int] | None = None, seed: int = 7) -> Path:
    """A model directory with deterministic pseudo-random contents (name -> size in bytes)."""
    files = files or {
        "weights/model-00001.safetensors": 300_000,
        "weights/model-00002.safetensors": 200_000,
        "config.json": 512,
        "tokenizer.json": 4096,
    }
    for name, size in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            block = (name.encode() + bytes([seed])) * 64
            remaining = size
            while remaining > 0:
                chunk = block[: min(len(block), remaining)]
                f.write(chunk)
                remaining -= len(chunk)
    return root


def sparse_file(path: Path, size: int) -> None:
    """A large file without using the disk (reads return zeros)."""
    with path.open("wb") as f:
        f.truncate(size)


def sign(model: Path, key: KeyPair, *, shard_size: int | None = None, allow_symlinks: bool = False) -> bytes:
    serialization = Serialization("shards" if shard_size else "files", shard_size, allow_symlinks, DEFAULT_IGNORES)
    result = hash_model(model, serialization)
    return sign_resources(model.name, serialization, result.resources, key)


def sign_resources(name: str, serialization: Serialization, resources: dict[str, Resource], key: KeyPair) -> bytes:
    private = crypto.load_private_key(key.private_pem)
    payload = build_statement(name, serialization, resources)
    return build_bundle(payload, crypto.sign_dsse(private, payload), crypto.key_hint(private.public_key()))


def flip_byte(path: Path, offset: int = 100) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


def truncate(path: Path, keep: int) -> None:
    os.truncate(path, keep)
