"""Backbones that encode contexts, responses and profiles, registered in :data:`BACKBONES`."""

from __future__ import annotations

from personafuse.backbones.hre import HRE
from personafuse.backbones.imn import IMN
from personafuse.backbones.layers import BACKBONES, Encoded

__all__ = ["BACKBONES", "HRE", "IMN", "Encoded"]
