"""Response generation (the paper's §5.7, Table 7): a BERT-architecture encoder run as a
UniLM-style sequence-to-sequence model, cached decoding, and BLEU / Dist / length."""

from __future__ import annotations

from personafuse.generation.decoding import DECODING_STRATEGIES, DecodingConfig, decode
from personafuse.generation.metrics import GENERATION_METRICS, corpus_scores, response_scores
from personafuse.generation.transformer import KeyValueCache, Seq2SeqBert, seq2seq_mask

__all__ = [
    "DECODING_STRATEGIES",
    "GENERATION_METRICS",
    "DecodingConfig",
    "KeyValueCache",
    "Seq2SeqBert",
    "corpus_scores",
    "decode",
    "response_scores",
    "seq2seq_mask",
]
