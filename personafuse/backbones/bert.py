"""BERT cross-encoder ranker with persona fusion by input layout (§4.3).

- ``persona=none``: ``[CLS] context [SEP] response [SEP]`` → pooled [CLS] → linear → score.
- A strategy with a persona pass (NA, CA, RA): the same pass plus one persona pass per fused
  persona through the same weights, laid out as the strategy's :class:`BertLayout` says; the
  pooled [CLS] vectors are concatenated → linear. Passes that do not depend on the candidate
  run once per context. A ``per_profile`` layout runs its pass once per profile sentence and
  lets the strategy's own ``forward`` aggregate the pooled profile vectors.
- A joint layout (CRA): one pass ``[CLS] persona <sep> context [SEP] response [SEP]`` with a
  learned 3-way subtype embedding added to the token embeddings (``subtype=false`` drops it:
  Table 5's ablation).

Scores are logits; training applies a sigmoid inside binary cross-entropy, ranking sorts them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from personafuse.backbones.base import BACKBONES, Backbone, NetworkSpec
from personafuse.config import ConfigError
from personafuse.features.bert import (
    TRUNCATION_CHOICES,
    BertBatch,
    PaddedSequences,
    Sequence3,
    SequenceBuilder,
    load_pretrained,
)
from personafuse.fusion import FUSIONS, BertLayout, PersonaFusion

__all__ = ["SUBTYPE_INITS", "BertRanker"]

SUBTYPE_INITS = ("truncated_normal", "zeros")


@BACKBONES.register("bert")
class BertRanker(Backbone):
    """Scores every candidate of every context with a BERT encoder.

    Args:
        pretrained: Hugging Face name, local directory or ``packaged``; or a ready
            ``transformers`` BERT model (tests use a tiny random one).
        special_ids: ``{"cls", "sep", "pad"}`` token ids of the tokenizer.
        fusion: Registered fusion name; unused without personas.
        personas: Which personas to fuse, e.g. ``("self",)``; ``()`` for no persona.
        max_len: Longest sequence in tokens (paper: 320).
        truncation: ``newest`` (keep the newest context tokens) or ``official``.
        subtype: The joint layout's learned subtype embedding (persona / context / response).
        subtype_init: ``truncated_normal`` (std 0.02, the official code's) or ``zeros``
            (training then starts from the pretrained model's own function).
        max_sequences: Sequences per encoder call; the sequences of a pass are sorted by
            length and encoded in chunks of this size, each padded to its own longest. None:
            8 on CPU, where small chunks stay in cache (docs/benchmarks.md, bert_cpu.py: 87 %
            of the matmul peak against 84 % with 16 and 71 % with 32 on the development
            machine), 512 on a GPU.
        dropout: Dropout before the linear scorer (BERT's own is in its config).
    """

    encoder: Any  # a Hugging Face BERT-architecture model

    def __init__(
        self,
        pretrained: str | nn.Module,
        special_ids: dict[str, int],
        fusion: str = "cra",
        personas: tuple[str, ...] = (),
        max_len: int = 320,
        truncation: str = "newest",
        subtype: bool = True,
        subtype_init: str = "truncated_normal",
        max_sequences: int | None = None,
        dropout: float = 0.1,
    ):
        super().__init__()
        if isinstance(pretrained, str):
            from transformers import AutoModel

            encoder = load_pretrained(AutoModel.from_pretrained, pretrained)
        else:
            encoder = pretrained
        # from_pretrained returns eval mode; Lightning keeps module modes, so BERT's own
        # dropout would stay off in training.
        self.encoder = encoder.train()
        self.personas = tuple(personas)
        # Encode each distinct sequence of an evaluation batch once (exact; see encode).
        self.deduplicate = True
        strategy = FUSIONS.get(fusion) if self.personas else None
        self.layout = strategy.bert if strategy is not None else None
        if strategy is not None and not self.serves(strategy):
            raise ValueError(f"fusion={fusion} has no BERT layout")
        self.builder = SequenceBuilder(
            special_ids["cls"], special_ids["sep"], special_ids["pad"], max_len, truncation
        )
        hidden = self.encoder.config.hidden_size
        joint = self.layout is not None and self.layout.joint
        self.subtype = nn.Embedding(3, hidden) if joint and subtype else None
        if self.subtype is not None and subtype_init == "zeros":
            nn.init.zeros_(self.subtype.weight)
        elif self.subtype is not None:  # as BERT's own embeddings: truncated normal, std 0.02
            nn.init.trunc_normal_(self.subtype.weight, std=0.02, a=-0.04, b=0.04)
        per_profile = self.layout is not None and self.layout.per_profile
        self.fusions = nn.ModuleDict(
            {name: strategy(hidden) for name in self.personas}
            if per_profile and strategy is not None
            else {}
        )
        passes = 1 if self.layout is None or joint else 1 + len(self.personas)
        self.dropout = nn.Dropout(dropout)
        self.scorer = nn.Linear(passes * hidden, 1)
        self.max_sequences = max_sequences
        # Another engine for the encoder (an ONNX Runtime session, personafuse.inference.onnx):
        # padded sequences -> (S, H) pooled vectors; None: the encoder itself.
        self.pool_engine: Callable[[PaddedSequences], torch.Tensor] | None = None

    @classmethod
    def serves(cls, fusion: type[PersonaFusion]) -> bool:
        layout = fusion.bert
        return layout is not None and (not layout.per_profile or fusion.attends())

    @classmethod
    def check_config(cls, model_cfg) -> None:
        if model_cfg.truncation not in TRUNCATION_CHOICES:
            raise ConfigError(
                f"model.truncation={model_cfg.truncation}; valid choices: "
                f"{', '.join(TRUNCATION_CHOICES)}"
            )
        if model_cfg.get("subtype_init", "truncated_normal") not in SUBTYPE_INITS:
            raise ConfigError(
                f"model.subtype_init={model_cfg.subtype_init}; valid choices: "
                f"{', '.join(SUBTYPE_INITS)}"
            )

    @classmethod
    def build(cls, spec: NetworkSpec) -> BertRanker:
        model = spec.model
        pretrained: str | nn.Module = model.pretrained
        if spec.encoder_config is not None:  # restoring: the architecture, not the weights
            from transformers import AutoConfig, AutoModel

            pretrained = AutoModel.from_config(AutoConfig.from_pretrained(spec.encoder_config))
        return cls(
            pretrained,
            spec.featurizer.special_ids,
            spec.fusion,
            spec.personas,
            max_len=model.max_len,
            truncation=model.truncation,
            subtype=model.subtype,
            subtype_init=model.get("subtype_init", "truncated_normal"),
            max_sequences=model.max_sequences,
            dropout=model.dropout,
        )

    def encode(self, sequences: list[Sequence3]) -> torch.Tensor:
        """Pooled [CLS] vector of each sequence, in length-sorted chunks. In evaluation each
        distinct sequence is encoded once (a dialogue's turns share the persona pass of NA);
        in training every copy keeps its own dropout.

        Shapes:
            returns (S, H).
        """
        if not self.training and self.deduplicate:
            distinct: list[Sequence3] = []
            rows: list[int] = []
            index: dict[tuple, int] = {}
            for sequence in sequences:
                key = tuple(map(tuple, sequence))
                if key not in index:
                    index[key] = len(distinct)
                    distinct.append(sequence)
                rows.append(index[key])
            if len(distinct) < len(sequences):
                device = self.scorer.weight.device
                return self._encode(distinct)[torch.as_tensor(rows, device=device)]
        return self._encode(sequences)

    def _encode(self, sequences: list[Sequence3]) -> torch.Tensor:
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i][0]))
        device = self.scorer.weight.device
        chunk_size = self.max_sequences or (8 if device.type == "cpu" else 512)
        pooled = torch.empty(
            len(sequences), self.encoder.config.hidden_size, device=device, dtype=torch.float32
        )
        for start in range(0, len(order), chunk_size):
            chunk = order[start : start + chunk_size]
            inputs = self.builder.pad([sequences[i] for i in chunk]).to(device)
            pool = self._pool if self.pool_engine is None else self.pool_engine
            pooled[torch.as_tensor(chunk, device=device)] = pool(inputs).to(device).float()
        return pooled

    def _pool(self, inputs: PaddedSequences) -> torch.Tensor:
        embeddings = self.encoder.embeddings.word_embeddings(inputs.input_ids)
        if self.subtype is not None:
            embeddings = embeddings + self.subtype(inputs.subtype_ids)
        output = self.encoder(
            inputs_embeds=embeddings,
            token_type_ids=inputs.token_type_ids,
            attention_mask=inputs.attention_mask,
        )
        if output.pooler_output is not None:
            return output.pooler_output
        return output.last_hidden_state[:, 0]

    def forward(self, batch: BertBatch) -> torch.Tensor:
        """Shapes: returns (B, C) logits."""
        num_candidates = len(batch.responses[0])
        missing = [name for name in self.personas if name not in batch.personas]
        if missing:
            raise ValueError(f"the batch has no {missing[0]} persona; check the persona config")
        build = self.builder.build
        pairs = [(b, r) for b in range(len(batch)) for r in batch.responses[b]]
        if self.layout is not None and self.layout.joint:
            sequences = [
                build(batch.context[b], response, prefix=self._joint_persona(batch, b))
                for b, response in pairs
            ]
            features = self.encode(sequences)
        else:
            main = self.encode([build(batch.context[b], r) for b, r in pairs])
            vectors = [main]
            for name in self.personas:
                if self.persona_layout.per_profile:
                    vectors.append(self._per_profile_pass(batch, name, main, num_candidates))
                else:
                    vectors.append(self._persona_pass(batch, name, pairs, num_candidates))
            features = torch.cat(vectors, dim=-1)  # (B·C, passes·H)
        return self.scorer(self.dropout(features)).view(len(batch), num_candidates)

    @property
    def persona_layout(self) -> BertLayout:
        """The layout of the persona passes (asked for only when a persona is fused)."""
        if self.layout is None:
            raise ValueError("this BERT ranker fuses no persona")
        return self.layout

    def _joint_persona(self, batch: BertBatch, index: int) -> list[int]:
        prefix: list[int] = []
        for name in self.personas:
            prefix += [*batch.persona_ids(name, index), *batch.persona_separator_ids]
        return prefix

    def _segments(self, persona: list[int], context: list[int], response=None) -> Sequence3:
        """``[CLS] a [SEP] (b [SEP])`` with the layout's segments; the context (if any) is the
        segment that truncation trims."""
        segments = self.persona_layout.persona_pass
        parts = {"persona": persona, "context": context, "response": response}
        first, *second = (parts[name] for name in segments)
        trimmed = (
            ("first", "second")[segments.index("context")] if "context" in segments else "none"
        )
        return self.builder.build(first, second[0] if second else None, context=trimmed)

    def _persona_pass(
        self, batch: BertBatch, name: str, pairs: list[tuple[int, list[int]]], candidates: int
    ) -> torch.Tensor:
        """(B·C, H) pooled vectors of one persona's pass."""
        personas = [batch.persona_ids(name, b) for b in range(len(batch))]
        if self.persona_layout.per_candidate:
            return self.encode([self._segments(personas[b], batch.context[b], r) for b, r in pairs])
        per_context = [self._segments(p, c) for p, c in zip(personas, batch.context, strict=True)]
        return self._broadcast(per_context, candidates)

    def _broadcast(self, per_context: list[Sequence3], candidates: int) -> torch.Tensor:
        """A pass that does not depend on the candidate: once per context, then repeated."""
        return self.encode(per_context).repeat_interleave(candidates, dim=0)

    def _per_profile_pass(
        self, batch: BertBatch, name: str, main: torch.Tensor, candidates: int
    ) -> torch.Tensor:
        """(B·C, H): one pass per profile sentence, aggregated by the strategy's forward with
        the first pass's vectors as ĉ and r̄."""
        profiles = batch.personas[name]
        counts = [len(p) for p in profiles]
        sequences = [
            self._segments(profile, batch.context[b])
            for b in range(len(batch))
            for profile in profiles[b]
        ]
        vectors = self.encode(sequences) if sequences else main.new_zeros(0, main.shape[-1])
        slots = max(1, max(counts))
        mask = (
            torch.arange(slots, device=main.device)[None, :]
            < torch.tensor(counts, device=main.device)[:, None]
        )
        padded = main.new_zeros(len(batch), slots, main.shape[-1])
        padded[mask] = vectors
        main = main.view(len(batch), candidates, -1)
        return self.fusions[name](main, main, padded, mask).reshape(-1, main.shape[-1])
