"""Matching features, one module each, registered by name in :data:`MATCHING`.

``model.matching: [concat]`` is the paper's Eq. 17; every module of this package is imported
here, so a new feature is one module decorated with ``@MATCHING.register("name")``.
"""

from __future__ import annotations

from personafuse.matching.base import MATCHING, MatchingFeature, MatchingInputs
from personafuse.registry import import_modules

import_modules(__name__)

__all__ = ["MATCHING", "MatchingFeature", "MatchingInputs"]
