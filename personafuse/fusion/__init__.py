"""Persona fusion strategies, one module each, registered by name in :data:`FUSIONS`.

Every module of this package is imported here, so a new strategy is one module (decorated with
``@FUSIONS.register("name")``) plus one ``conf/fusion/name.yaml``.
"""

from __future__ import annotations

from personafuse.fusion.base import FUSIONS, BertLayout, PersonaFusion, attend_profiles
from personafuse.registry import import_modules

import_modules(__name__)

__all__ = ["FUSIONS", "BertLayout", "PersonaFusion", "attend_profiles"]
