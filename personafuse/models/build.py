"""Build a ranking network from the composed ``model`` / ``fusion`` / ``persona`` configs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from personafuse.data.schema import RankingExample
from personafuse.models.featurizer import RnnFeaturizer
from personafuse.models.ranker import PersonaRanker
from personafuse.text.embeddings import build_word_vectors

__all__ = ["build_bert_ranker", "build_ranker", "build_rnn_ranker", "fused_personas"]


def fused_personas(persona: str, as_context: bool = False) -> tuple[str, ...]:
    """Which personas the model fuses: none for ``none`` and for persona-only runs (Table 2),
    where the persona sentences take the place of the context."""
    if as_context:
        return ()
    return {"none": (), "self": ("self",), "partner": ("partner",), "both": ("self", "partner")}[
        persona
    ]


def build_rnn_ranker(
    model_cfg,
    fusion: str,
    personas: tuple[str, ...],
    featurizer: RnnFeaturizer,
    train_examples: Sequence[RankingExample],
    cache_dir: str | None = None,
    seed: int = 0,
    word_vectors: np.ndarray | None = None,
) -> PersonaRanker:
    """HRE or IMN (by ``model_cfg.name``) with frozen word vectors built from the train split,
    or the given ``word_vectors`` (e.g. placeholders that a checkpoint then overwrites)."""
    from personafuse.backbones import BACKBONES

    embeddings = model_cfg.embeddings
    if word_vectors is None:
        word_vectors = build_word_vectors(
            featurizer.vocab,
            train_examples,
            glove=embeddings.glove,
            word2vec_dim=embeddings.word2vec_dim,
            word2vec_epochs=embeddings.word2vec_epochs,
            seed=seed,
            cache_dir=cache_dir,
        )
    backbone = BACKBONES.get(model_cfg.name)(
        word_vectors, len(featurizer.char_vocab), **model_cfg.backbone
    )
    return PersonaRanker(
        backbone,
        fusion,
        personas,
        mlp_hidden=model_cfg.mlp_hidden,
        dropout=model_cfg.dropout,
        interactions=model_cfg.interactions,
        # Runs saved before the option existed lack the key.
        utterance_attention=model_cfg.get("utterance_attention", False),
    )


def build_bert_ranker(model_cfg, fusion: str, personas: tuple[str, ...], featurizer):
    """A BERT ranker from ``model.pretrained`` with the featurizer's special token ids."""
    from personafuse.models.bert import BertRanker

    return BertRanker(
        model_cfg.pretrained,
        featurizer.special_ids,
        fusion,
        personas,
        max_len=model_cfg.max_len,
        truncation=model_cfg.truncation,
        subtype=model_cfg.subtype,
        max_sequences=model_cfg.max_sequences,
        dropout=model_cfg.dropout,
    )


def build_ranker(
    model_cfg,
    fusion: str,
    personas: tuple[str, ...],
    featurizer,
    train_examples: Sequence[RankingExample],
    cache_dir: str | None = None,
    seed: int = 0,
):
    """The network of ``model_cfg.family``: ``rnn`` (HRE, IMN) or ``bert``."""
    if model_cfg.family == "bert":
        return build_bert_ranker(model_cfg, fusion, personas, featurizer)
    if model_cfg.family == "rnn":
        return build_rnn_ranker(
            model_cfg, fusion, personas, featurizer, train_examples, cache_dir, seed
        )
    raise ValueError(f"model.family={model_cfg.family!r}; valid choices: rnn, bert")
