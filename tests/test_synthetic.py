"""The synthetic corpus: format, determinism, and the effects it is built to show."""

from __future__ import annotations

import json
import re

import pytest
import torch

from personafuse.data import SyntheticPersonaChat, generate_corpus, read_personachat, select_persona
from personafuse.scoring.baselines import LexicalOverlapRanker
from personafuse.scoring.metrics import hits_at_k, mrr

from .conftest import TINY_DIALOGUES

NAME = re.compile(
    r"(train|valid|test)_(none_original|(self|other|both)_(original|revised))(_no_cands)?\.txt"
)


def test_files_follow_persona_chat_naming(tiny_corpus):
    names = sorted(p.name for p in tiny_corpus.glob("*.txt") if p.name != "README.txt")
    assert len(names) == 3 * 7 * 2
    assert all(NAME.fullmatch(n) for n in names)
    manifest = json.loads((tiny_corpus / "manifest.json").read_text())
    assert set(manifest["files"]) == set(names)
    for split, n in TINY_DIALOGUES.items():
        assert manifest["splits"][split]["dialogues"] == n


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_every_variant_parses_consistently(tiny_corpus, split):
    both = read_personachat(tiny_corpus / f"{split}_both_original.txt")
    assert both[-1].dialogue_id == TINY_DIALOGUES[split] - 1
    for variant in (
        "none_original",
        "self_original",
        "self_revised",
        "other_original",
        "other_revised",
        "both_revised",
    ):
        examples = read_personachat(tiny_corpus / f"{split}_{variant}.txt")
        no_cands = read_personachat(tiny_corpus / f"{split}_{variant}_no_cands.txt")
        assert [(e.context, e.response) for e in examples] == [
            (e.context, e.response) for e in both
        ]
        assert [(e.context, e.response) for e in no_cands] == [
            (e.context, e.response) for e in both
        ]
        assert all(e.candidates == () and e.label is None for e in no_cands)
        persona = variant.split("_")[0]
        assert all(bool(e.self_persona) == (persona in ("self", "both")) for e in examples)
        assert all(bool(e.partner_persona) == (persona in ("other", "both")) for e in examples)
    for e in both:
        assert e.num_candidates == 20 and e.label == 19
        assert len(set(e.candidates)) == 20
        assert 3 <= len(e.self_persona) <= 5 and 3 <= len(e.partner_persona) <= 5


def test_revised_persona_shares_few_content_words(tiny_corpus):
    original = read_personachat(tiny_corpus / "train_both_original.txt")
    revised = read_personachat(tiny_corpus / "train_both_revised.txt")
    shared = total = 0
    for a, b in zip(original, revised, strict=True):
        if a.turn:
            continue
        for x, y in zip(a.self_persona, b.self_persona, strict=True):
            content = lambda s: {w for w in s.strip(".").split() if len(w) > 3}  # noqa: E731
            shared += len(content(x) & content(y))
            total += len(content(x))
        assert a.self_persona != b.self_persona
    assert shared / total < 0.15


def test_generation_is_deterministic(tmp_path, tiny_corpus):
    again = generate_corpus(tmp_path / "again", seed=7, dialogues=TINY_DIALOGUES)
    assert again == json.loads((tiny_corpus / "manifest.json").read_text())
    other = generate_corpus(tmp_path / "other", seed=8, dialogues=TINY_DIALOGUES)
    assert other["files"] != again["files"]


def test_refuses_to_overwrite_and_leaves_nothing_behind(tmp_path, tiny_corpus):
    with pytest.raises(FileExistsError):
        generate_corpus(tiny_corpus, seed=7, dialogues=TINY_DIALOGUES)
    with pytest.raises(ValueError, match="too few"):
        generate_corpus(tmp_path / "small", seed=0, dialogues={"train": 1, "valid": 1, "test": 1})
    assert list(tmp_path.iterdir()) == []  # no staging directory left


def test_cached_source_generates_once(tmp_path):
    source = SyntheticPersonaChat(tmp_path, version="revised", seed=3, dialogues=TINY_DIALOGUES)
    path = source.split_path("valid", "partner")
    assert path.name == "valid_both_revised.txt" and path.parent.parent == tmp_path
    stamp = (path.parent / "manifest.json").stat().st_mtime_ns
    assert (
        SyntheticPersonaChat(tmp_path, "revised", 3, TINY_DIALOGUES).split_path("valid", "self")
        == path
    )
    assert (path.parent / "manifest.json").stat().st_mtime_ns == stamp


def _lexical(corpus, version: str, persona: str) -> tuple[float, float]:
    ranker = LexicalOverlapRanker().fit(read_personachat(corpus / "train_both_original.txt"))
    test = select_persona(read_personachat(corpus / f"test_both_{version}.txt"), persona)
    scores, labels = ranker.score(test), torch.tensor([e.label for e in test])
    return hits_at_k(scores, labels, 1).item(), mrr(scores, labels).item()


def test_effects_are_measurable_with_lexical_overlap(tmp_path):
    corpus = tmp_path / "corpus"
    generate_corpus(corpus, seed=11, dialogues={"train": 200, "valid": 20, "test": 300})
    none, _ = _lexical(corpus, "original", "none")
    self_, _ = _lexical(corpus, "original", "self")
    partner, _ = _lexical(corpus, "original", "partner")
    revised_self, _ = _lexical(corpus, "revised", "self")
    assert none > 0.05 + 0.04  # context beats chance (1 in 20)
    assert self_ > partner + 0.03  # self persona adds most
    assert partner > none + 0.02  # partner adds less, but some
    assert revised_self < self_ - 0.05  # revised is harder than original
