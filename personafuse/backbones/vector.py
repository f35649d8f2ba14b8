"""Backbones that encode sentences into vectors and leave fusion and scoring to the ranker."""

from __future__ import annotations

import numpy as np

from personafuse.backbones.base import Backbone, NetworkSpec
from personafuse.backbones.ranker import PersonaRanker
from personafuse.config import ConfigError
from personafuse.fusion.base import PersonaFusion
from personafuse.matching import MATCHING
from personafuse.text.embeddings import build_word_vectors

__all__ = ["WORD_VECTORS_KEY", "VectorBackbone"]

# State-dict suffix of the frozen word-vector table (WordRepresentation.words).
WORD_VECTORS_KEY = "words.words.weight"


class VectorBackbone(Backbone):
    """Base of backbones that map an :class:`~personafuse.features.RnnBatch` to
    :class:`~personafuse.backbones.ranker.Encoded` vectors (HRE, IMN). The network is a
    :class:`~personafuse.backbones.ranker.PersonaRanker` around the backbone: every fusion
    strategy that attends over profile vectors, every matching feature whose requirements
    the backbone ``provides``.

    Subclasses take ``(word_vectors, num_chars, **model.backbone)``: the frozen (V, E) word
    table built from the training split, the size of the character vocabulary, and their own
    options from ``conf/model/NAME.yaml``.
    """

    output_dim: int  # D of the context, persona and response vectors

    def response_vectors(self, tokens):
        """Candidate vectors that do not depend on the context, (*group, L) tokens ->
        (*group, D), for a response pool to compute once; None when the backbone has none
        (IMN matches every candidate with the context first)."""
        return None

    @classmethod
    def serves(cls, fusion: type[PersonaFusion]) -> bool:
        return fusion.attends()

    @classmethod
    def check_config(cls, model_cfg) -> None:
        for name in model_cfg.matching:
            if name not in MATCHING:
                raise ConfigError(f"model.matching: {MATCHING.unknown(name)}")
            missing = MATCHING.get(name).requires - cls.provides
            if missing:
                raise ConfigError(
                    f"model.matching: {name!r} needs {', '.join(sorted(missing))}, which "
                    f"model={model_cfg.name} does not give"
                )

    @classmethod
    def build(cls, spec: NetworkSpec) -> PersonaRanker:
        backbone = cls(
            cls.word_vectors(spec), len(spec.featurizer.char_vocab), **spec.model.backbone
        )
        return PersonaRanker(
            backbone,
            spec.fusion,
            spec.personas,
            mlp_hidden=spec.model.mlp_hidden,
            dropout=spec.model.dropout,
            matching=list(spec.model.matching),
        )

    @classmethod
    def word_vectors(cls, spec: NetworkSpec) -> np.ndarray:
        """GloVe ⊕ word2vec of the training split; when restoring, zeros of the checkpoint's
        shape (the checkpoint then fills them)."""
        if spec.state_dict is not None:
            table = next(
                (v for k, v in spec.state_dict.items() if k.endswith(WORD_VECTORS_KEY)), None
            )
            if table is None:
                raise ValueError(f"not a {cls.__name__} checkpoint: no frozen word vectors")
            return np.zeros(tuple(table.shape), dtype=np.float32)
        embeddings = spec.model.embeddings
        return build_word_vectors(
            spec.featurizer.vocab,
            spec.train_examples,
            glove=embeddings.glove,
            word2vec_dim=embeddings.word2vec_dim,
            word2vec_epochs=embeddings.word2vec_epochs,
            seed=spec.seed,
            cache_dir=spec.cache_dir,
        )
