"""BERT cross-encoder ranker with the four persona fusion strategies (§4.3).

- ``persona=none``: ``[CLS] context [SEP] response [SEP]`` → pooled [CLS] → linear → score.
- NA / CA / RA: the same pass plus one persona pass per fused persona through the same
  weights (:mod:`personafuse.fusion.bert`); the pooled [CLS] vectors are concatenated →
  linear. NA and CA persona passes do not depend on the candidate and run once per context.
- CRA: one pass ``[CLS] persona context [SEP] response [SEP]`` with a learned 3-way subtype
  embedding added to the token embeddings (``subtype=false`` drops it: Table 5's ablation).

Scores are logits; training applies a sigmoid inside binary cross-entropy, ranking sorts them.
"""

from __future__ import annotations

import torch
from torch import nn

from personafuse.fusion.bert import BERT_FUSIONS
from personafuse.models.bert_inputs import (
    BertBatch,
    PaddedSequences,
    Sequence3,
    SequenceBuilder,
    resolve_pretrained,
)

__all__ = ["BertRanker"]


class BertRanker(nn.Module):
    """Scores every candidate of every context with a BERT encoder.

    Args:
        pretrained: Hugging Face name, local directory or ``packaged``; or a ready
            ``transformers`` BERT model (tests use a tiny random one).
        special_ids: ``{"cls", "sep", "pad"}`` token ids of the tokenizer.
        fusion: ``na``, ``ca``, ``ra`` or ``cra``; unused without personas.
        personas: Which personas to fuse, e.g. ``("self",)``; ``()`` for no persona.
        max_len: Longest sequence in tokens (paper: 320).
        truncation: ``newest`` (keep the newest context tokens) or ``official``.
        subtype: CRA's learned subtype embedding (persona / context / response).
        max_sequences: Sequences per encoder call; the B·C sequences of a batch are sorted by
            length and encoded in chunks of this size, each padded to its own longest. None:
            16 on CPU, where small chunks stay in cache (docs/benchmarks.md: 1.5× the pairs/s
            of chunks of 256 on the development machine), 512 on a GPU.
        dynamic_padding: False pads every chunk to ``max_len`` (for comparison only).
        persona_pass_per_context: False runs NA/CA persona passes once per (context,
            candidate) pair, the paper's design (for comparison only).
        dropout: Dropout before the linear scorer (BERT's own is in its config).
    """

    def __init__(
        self,
        pretrained: str | nn.Module,
        special_ids: dict[str, int],
        fusion: str = "cra",
        personas: tuple[str, ...] = (),
        max_len: int = 320,
        truncation: str = "newest",
        subtype: bool = True,
        max_sequences: int | None = None,
        dynamic_padding: bool = True,
        persona_pass_per_context: bool = True,
        dropout: float = 0.1,
    ):
        super().__init__()
        if isinstance(pretrained, str):
            from transformers import AutoModel

            pretrained = AutoModel.from_pretrained(resolve_pretrained(pretrained))
        # from_pretrained returns eval mode; Lightning keeps module modes, so BERT's own
        # dropout would stay off in training.
        self.encoder = pretrained.train()
        self.personas = tuple(personas)
        self.fusion = BERT_FUSIONS.get(fusion) if self.personas else None
        self.builder = SequenceBuilder(
            special_ids["cls"], special_ids["sep"], special_ids["pad"], max_len, truncation
        )
        hidden = self.encoder.config.hidden_size
        joint = self.fusion is not None and self.fusion.joint
        # Zero-initialised so training starts from the pretrained model's own function; the
        # three rows then learn what sets persona, context and response apart.
        self.subtype = nn.Embedding(3, hidden) if joint and subtype else None
        if self.subtype is not None:
            nn.init.zeros_(self.subtype.weight)
        passes = 1 if self.fusion is None or joint else 1 + len(self.personas)
        self.dropout = nn.Dropout(dropout)
        self.scorer = nn.Linear(passes * hidden, 1)
        self.max_sequences = max_sequences
        self.dynamic_padding = dynamic_padding
        self.persona_pass_per_context = persona_pass_per_context

    def encode(self, sequences: list[Sequence3]) -> torch.Tensor:
        """Pooled [CLS] vector of each sequence, in length-sorted chunks.

        Shapes:
            returns (S, H).
        """
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i][0]))
        device = self.scorer.weight.device
        chunk_size = self.max_sequences or (16 if device.type == "cpu" else 512)
        pooled = torch.empty(
            len(sequences), self.encoder.config.hidden_size, device=device, dtype=torch.float32
        )
        fixed = None if self.dynamic_padding else self.builder.max_len
        for start in range(0, len(order), chunk_size):
            chunk = order[start : start + chunk_size]
            inputs = self.builder.pad([sequences[i] for i in chunk], fixed).to(device)
            pooled[torch.as_tensor(chunk, device=device)] = self._pool(inputs).float()
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
        if self.fusion is not None and self.fusion.joint:
            sequences = []
            for b, response in pairs:
                prefix = self._joint_persona(batch, b)
                sequences.append(build(batch.context[b], response, prefix=prefix))
            vectors = [self.encode(sequences)]
        else:
            vectors = [self.encode([build(batch.context[b], r) for b, r in pairs])]
            for name in self.personas:
                vectors.append(self._persona_pass(batch, name, pairs, num_candidates))
        features = torch.cat(vectors, dim=-1)  # (B·C, passes·H)
        return self.scorer(self.dropout(features)).view(len(batch), num_candidates)

    def _joint_persona(self, batch: BertBatch, index: int) -> list[int]:
        prefix: list[int] = []
        for name in self.personas:
            persona = batch.personas[name][index]
            prefix += [*persona, self.builder.sep_id]
        return prefix

    def _persona_pass(
        self, batch: BertBatch, name: str, pairs: list[tuple[int, list[int]]], candidates: int
    ) -> torch.Tensor:
        """(B·C, H) pooled vectors of one persona's pass."""
        persona = batch.personas[name]
        segments = self.fusion.persona_pass
        build = self.builder.build
        if self.fusion.per_candidate:  # RA: [CLS] persona [SEP] response [SEP]
            return self.encode([build(persona[b], r, context="none") for b, r in pairs])
        if segments == ("persona",):  # NA: [CLS] persona [SEP]
            per_context = [build(p, context="none") for p in persona]
        else:  # CA: [CLS] persona [SEP] context [SEP]
            per_context = [
                build(p, c, context="second") for p, c in zip(persona, batch.context, strict=True)
            ]
        if not self.persona_pass_per_context:
            return self.encode([per_context[b] for b, _ in pairs])
        return self.encode(per_context).repeat_interleave(candidates, dim=0)
