"""The model file formats inspection tells apart (part of the API: TrustPolicy.spec.inspection.allowedFormats
and AIModel status name them). A plain module: `modelguard verify` and `inspect` load it without pydantic."""

from __future__ import annotations

from typing import Literal, get_args

ModelFormat = Literal[
    "safetensors", "gguf", "onnx", "numpy", "pytorch", "keras", "pickle", "hdf5", "zip", "json", "text"
]
FORMATS: tuple[str, ...] = get_args(ModelFormat)
SAFE_FORMATS: tuple[ModelFormat, ...] = ("safetensors", "gguf", "onnx", "json", "text")  # loading runs no code
