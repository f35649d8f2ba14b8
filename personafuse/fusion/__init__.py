"""Persona fusion strategies (NA, CA, RA, CRA), registered by name in :data:`FUSIONS`."""

from __future__ import annotations

from personafuse.fusion.base import FUSIONS, PersonaFusion, attend_profiles
from personafuse.fusion.ca import ContextAwareFusion
from personafuse.fusion.cra import ContextResponseAwareFusion
from personafuse.fusion.na import NonAwareFusion
from personafuse.fusion.ra import ResponseAwareFusion

__all__ = [
    "FUSIONS",
    "ContextAwareFusion",
    "ContextResponseAwareFusion",
    "NonAwareFusion",
    "PersonaFusion",
    "ResponseAwareFusion",
    "attend_profiles",
]
