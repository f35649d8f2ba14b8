"""Backbones, one module each, registered by name in :data:`BACKBONES`.

Every module of this package is imported here, so a new backbone is one module (decorated with
``@BACKBONES.register("name")``) plus one ``conf/model/name.yaml``.
"""

from __future__ import annotations

from personafuse.backbones.base import BACKBONES, Backbone, NetworkSpec
from personafuse.backbones.ranker import Encoded, PersonaRanker
from personafuse.backbones.vector import VectorBackbone
from personafuse.registry import import_modules

import_modules(__name__)

__all__ = ["BACKBONES", "Backbone", "Encoded", "NetworkSpec", "PersonaRanker", "VectorBackbone"]
