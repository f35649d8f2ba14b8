"""Decoding for :class:`~personafuse.generation.transformer.Seq2SeqBert`: greedy, beam search
and nucleus sampling, batched over examples.

With ``use_cache`` (the default) the source is encoded once and every new token attends to
the cached keys and values of the source and of the tokens before it; without it each step
re-encodes source and prefix (the reference the cache is checked and timed against).
Each target token is predicted from the position before it: the first from the source's last
token ([SEP]), the next from the token just generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from personafuse.generation.transformer import KeyValueCache, Seq2SeqBert, seq2seq_mask

__all__ = ["DECODING_STRATEGIES", "DecodingConfig", "decode"]

DECODING_STRATEGIES = ("greedy", "beam", "sample")


@dataclass
class DecodingConfig:
    """How responses are generated.

    Args:
        strategy: ``greedy``, ``beam`` or ``sample`` (nucleus sampling).
        max_length: Most tokens generated, the end token included.
        min_length: Fewest tokens before the end token may come.
        beam_size: Hypotheses kept per example (``beam``).
        length_penalty: A finished hypothesis scores ``log p / length ** length_penalty``.
        no_repeat_ngram: Never repeat an n-gram of this size within a response (0: off).
        top_p: Nucleus of the sampling distribution (``sample``).
        temperature: Divides the logits before sampling.
        seed: Seed of the sampling generator.
        use_cache: Reuse the source's and prefix's keys and values at every step.
    """

    strategy: str = "greedy"
    max_length: int = 32
    min_length: int = 1
    beam_size: int = 4
    length_penalty: float = 1.0
    no_repeat_ngram: int = 0
    top_p: float = 0.9
    temperature: float = 1.0
    seed: int = 0
    use_cache: bool = True

    def __post_init__(self):
        if self.strategy not in DECODING_STRATEGIES:
            raise ValueError(
                f"decoding.strategy={self.strategy!r}; valid choices: "
                f"{', '.join(DECODING_STRATEGIES)}"
            )
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError(
                f"decoding.min_length={self.min_length}, max_length={self.max_length}: need "
                "1 <= min_length <= max_length"
            )


class _Stepper:
    """Next-token logits for rows of hypotheses, with or without the key/value cache."""

    def __init__(self, model: Seq2SeqBert, source_ids, source_lengths, end_id, config, primed):
        self.model, self.end_id, self.use_cache = model, end_id, config.use_cache
        self.source_ids, self.source_lengths = source_ids, source_lengths
        self.steps = config.max_length
        self.primed = primed
        self.cache: KeyValueCache | None = None

    def first(self) -> torch.Tensor:
        """Logits of the first target token, from the source's last position. (B, V)"""
        if self.primed is not None:
            logits, self.cache = self.primed
            self.primed = None
        else:
            ids, lengths = self.source_ids, self.source_lengths
            width = ids.shape[1]
            positions = torch.arange(width, device=ids.device).expand_as(ids)
            mask = seq2seq_mask(lengths, torch.zeros_like(lengths), width)
            hidden, self.cache = self.model(ids, torch.zeros_like(ids), positions, mask)
            self.cache.visible = positions < lengths[:, None]
            logits = self.model.logits(hidden[torch.arange(len(ids), device=ids.device),
                                              lengths - 1])  # fmt: skip
        if self.use_cache:
            self.cache.reserve(self.cache.length + self.steps)  # no copy of it per step
        return logits

    def select(self, rows: torch.Tensor) -> None:
        self.source_ids, self.source_lengths = self.source_ids[rows], self.source_lengths[rows]
        if self.cache is not None:
            self.cache = self.cache.select(rows)

    def next(self, generated: torch.Tensor) -> torch.Tensor:
        """Logits of the token after ``generated`` (R, t): (R, V)."""
        if self.use_cache:
            return self._cached(generated[:, -1:], generated.shape[1])
        return self._recomputed(generated)

    def _cached(self, token: torch.Tensor, step: int) -> torch.Tensor:
        cache = self.cache
        if cache is None:
            raise RuntimeError("decoding steps come after first()")
        seen = cache.visible[:, : cache.length]
        mask = torch.cat([seen, seen.new_ones(len(token), 1)], dim=1)
        positions = (self.source_lengths + step - 1)[:, None]
        hidden, self.cache = self.model(
            token, torch.ones_like(token), positions, mask[:, None, :], cache
        )
        return self.model.logits(hidden[:, -1])

    def _recomputed(self, generated: torch.Tensor) -> torch.Tensor:
        rows, steps = generated.shape
        lengths = self.source_lengths
        width = self.source_ids.shape[1] + steps
        ids = torch.zeros(rows, width, dtype=torch.long, device=generated.device)
        ids[:, : self.source_ids.shape[1]] = self.source_ids
        columns = lengths[:, None] + torch.arange(steps, device=ids.device)  # packed after source
        ids.scatter_(1, columns, generated)
        positions = torch.arange(width, device=ids.device).expand(rows, -1)
        types = (positions >= lengths[:, None]).long()
        targets = torch.full_like(lengths, steps)
        hidden, _ = self.model(ids, types, positions, seq2seq_mask(lengths, targets, width))
        return self.model.logits(hidden[torch.arange(rows, device=ids.device), columns[:, -1]])


def _ban(logits, generated, config: DecodingConfig, end_id: int) -> torch.Tensor:
    """-inf for the end token before ``min_length`` and for tokens that would repeat an
    n-gram. ``generated``: (R, t), ``logits``: (R, V)."""
    steps = generated.shape[1]
    if steps + 1 < config.min_length:
        logits[:, end_id] = float("-inf")
    n = config.no_repeat_ngram
    if n and steps + 1 >= n:
        history = generated.tolist()
        for row, tokens in enumerate(history):
            prefix = tuple(tokens[len(tokens) - n + 1 :]) if n > 1 else ()
            banned = [
                tokens[i + n - 1]
                for i in range(len(tokens) - n + 1)
                if tuple(tokens[i : i + n - 1]) == prefix
            ]
            if banned:
                logits[row, banned] = float("-inf")
    return logits


@torch.no_grad()
def decode(
    model: Seq2SeqBert,
    source_ids: torch.Tensor,
    source_lengths: torch.Tensor,
    end_id: int,
    config: DecodingConfig | None = None,
    primed: tuple[torch.Tensor, KeyValueCache] | None = None,
) -> list[list[int]]:
    """Generate one response per source.

    Args:
        primed: The first target token's logits and the sources' key/value cache from a pass
            that already encoded them (with ``use_cache``; e.g. the teacher-forced pass, in
            which a source token attends to the source only), instead of encoding them again.

    Shapes:
        source_ids: (B, S) padded sources ([CLS] … [SEP]); source_lengths: (B,)
        primed: logits (B, V); cache of B rows, its ``visible`` True at source tokens only
        returns: B lists of token ids, without the end token.
    """
    config = config or DecodingConfig()
    stepper = _Stepper(model, source_ids, source_lengths, end_id, config, primed)
    if config.strategy == "beam":
        return _beam(stepper, config, end_id)
    return _sample_or_greedy(stepper, config, end_id)


def _sample_or_greedy(stepper: _Stepper, config: DecodingConfig, end_id: int):
    """Rows that produced the end token leave the batch (their cache rows too), so a step
    costs what the responses still being written need, not what the longest one does."""
    batch = len(stepper.source_ids)
    device = stepper.source_ids.device
    generator = torch.Generator(device=device).manual_seed(config.seed)
    responses: list[list[int]] = [[] for _ in range(batch)]
    live = list(range(batch))  # the rows of the batch still generating, in stepper order
    generated = torch.empty(batch, 0, dtype=torch.long, device=device)
    logits = stepper.first()
    for step in range(config.max_length):
        logits = _ban(logits.float(), generated, config, end_id)
        if config.strategy == "greedy":
            token = logits.argmax(-1)
        else:
            token = _nucleus(logits / config.temperature, config.top_p, generator)
        generated = torch.cat([generated, token[:, None]], dim=1)
        tokens = token.tolist()
        for row, value in zip(live, tokens, strict=True):
            if value != end_id:
                responses[row].append(value)
        if step + 1 == config.max_length:
            break
        going = [index for index, value in enumerate(tokens) if value != end_id]
        if not going:
            break
        if len(going) < len(live):
            keep = torch.tensor(going, device=device)
            stepper.select(keep)
            generated = generated[keep]
            live = [live[index] for index in going]
        logits = stepper.next(generated)
    return responses


def _nucleus(logits: torch.Tensor, top_p: float, generator) -> torch.Tensor:
    probabilities = logits.softmax(-1)
    sorted_p, order = probabilities.sort(-1, descending=True)
    # Keep the smallest set of tokens whose mass reaches top_p (always the most likely one).
    outside = sorted_p.cumsum(-1) - sorted_p >= top_p
    sorted_p = sorted_p.masked_fill(outside, 0.0)
    choice = torch.multinomial(sorted_p, 1, generator=generator)
    return order.gather(-1, choice).squeeze(-1)


def _until_end(tokens: list[int], end_id: int) -> list[int]:
    return tokens[: tokens.index(end_id)] if end_id in tokens else tokens


def _beam(stepper: _Stepper, config: DecodingConfig, end_id: int) -> list[list[int]]:
    batch, size = len(stepper.source_ids), config.beam_size
    device = stepper.source_ids.device
    logits = stepper.first()
    rows = torch.arange(batch, device=device).repeat_interleave(size)
    stepper.select(rows)
    logits = logits[rows]
    scores = torch.full((batch, size), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live hypothesis at the start
    generated = torch.empty(batch * size, 0, dtype=torch.long, device=device)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    for step in range(config.max_length):
        log_p = _ban(logits.float(), generated, config, end_id).log_softmax(-1)
        vocab = log_p.shape[-1]
        total = (scores.view(-1, 1) + log_p).view(batch, size * vocab)
        top, index = total.topk(2 * size, dim=-1)
        beam, token = index // vocab, index % vocab
        next_rows, next_tokens, next_scores = [], [], []
        for b in range(batch):
            kept = 0
            candidates = zip(top[b].tolist(), beam[b].tolist(), token[b].tolist(), strict=True)
            for score, k, t in candidates:
                if score == float("-inf"):
                    break
                row = b * size + k
                last = step + 1 == config.max_length
                if t == end_id or last:
                    if len(finished[b]) < size:
                        length = step + 1
                        tokens = generated[row].tolist() + ([] if t == end_id else [t])
                        finished[b].append((score / length**config.length_penalty, tokens))
                    continue
                next_rows.append(row)
                next_tokens.append(t)
                next_scores.append(score)
                kept += 1
                if kept == size:
                    break
            while kept < size:  # fewer live continuations than beams: pad with dead ones
                next_rows.append(b * size)
                next_tokens.append(end_id)
                next_scores.append(float("-inf"))
                kept += 1
        if all(len(f) >= size for f in finished) or step + 1 == config.max_length:
            break
        select = torch.tensor(next_rows, device=device)
        stepper.select(select)
        generated = torch.cat(
            [generated[select], torch.tensor(next_tokens, device=device)[:, None]], dim=1
        )
        scores = torch.tensor(next_scores, device=device).view(batch, size)
        logits = stepper.next(generated)
    return [max(f, key=lambda item: item[0])[1] if f else [] for f in finished]
