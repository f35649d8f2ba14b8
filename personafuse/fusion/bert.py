"""How each fusion strategy feeds a persona to BERT (§4.3): a second pass, or one joint pass.

BERT fuses by input layout rather than by attention over profile vectors, so its strategies
are declarative: which segments the persona pass reads. Building the token sequences is the
BERT input builder's job (:mod:`personafuse.models.bert_inputs`); fusion never tokenizes.
"""

from __future__ import annotations

from dataclasses import dataclass

from personafuse.registry import Registry

__all__ = ["BERT_FUSIONS", "BertFusion"]


@dataclass(frozen=True)
class BertFusion:
    """One strategy's BERT layout.

    Attributes:
        persona_pass: Segments of the second pass after ``[CLS]``, each followed by ``[SEP]``:
            NA ``("persona",)``, CA ``("persona", "context")``, RA ``("persona", "response")``.
            Empty for CRA, whose single pass is ``[CLS] persona context [SEP] response [SEP]``
            with a learned subtype embedding.
    """

    persona_pass: tuple[str, ...]

    @property
    def joint(self) -> bool:
        """One pass over persona, context and response together (CRA)."""
        return not self.persona_pass

    @property
    def per_candidate(self) -> bool:
        """Whether the persona pass depends on the candidate (RA); if not, it runs once per
        context and is broadcast to the context's candidates."""
        return "response" in self.persona_pass


BERT_FUSIONS: Registry[BertFusion] = Registry("fusion")
BERT_FUSIONS.register("na")(BertFusion(("persona",)))
BERT_FUSIONS.register("ca")(BertFusion(("persona", "context")))
BERT_FUSIONS.register("ra")(BertFusion(("persona", "response")))
BERT_FUSIONS.register("cra")(BertFusion(()))
