"""A small real model saved the way tenants upload it, with the deployment spec that points at it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contracts.config import DeploymentSpec


@dataclass(frozen=True)
class SavedModel:
    estimator: Any
    path: Path
    features: tuple[str, ...]
    X: np.ndarray

    def spec(self, fmt: str, **overrides: Any) -> DeploymentSpec:
        fields: dict[str, Any] = {
            "model": "m",
            "version": 1,
            "role": "champion",
            "format": fmt,
            "sha256": sha256_of(self.path),
            "artifact_url": self.path.as_uri(),
            "features": self.features,
        }
        fields.update(overrides)
        return DeploymentSpec(**fields)

    def rows(self, n: int) -> list[dict[str, float]]:
        return [dict(zip(self.features, map(float, x), strict=True)) for x in self.X[:n]]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
