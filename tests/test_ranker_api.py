"""``personafuse.Ranker``: a trained run ranks replies from Python with the scores `evaluate`
writes, and refuses inputs the model cannot read."""

from __future__ import annotations

import csv

import pytest

from personafuse.checkpoints import KEY, CheckpointError


@pytest.fixture
def trained(tiny_hre_run):
    return tiny_hre_run


def test_scores_equal_those_evaluate_wrote(trained):
    from hydra.utils import instantiate

    from personafuse import Ranker
    from personafuse.config import compose_config
    from personafuse.runs.directory import training_overrides

    ranker = Ranker.from_checkpoint(trained / "checkpoints" / "best.ckpt", device="cpu")
    cfg = compose_config(overrides=training_overrides(trained))
    datamodule = instantiate(cfg.datamodule)
    datamodule.prepare_data()
    examples = datamodule.load_split("test")[:40]  # the same shuffled candidates as the run
    scores = ranker.score(
        [e.context for e in examples],
        [e.candidates for e in examples],
        [e.self_persona for e in examples],
        [e.partner_persona for e in examples],
    )
    with (trained / "predictions_test.tsv").open() as handle:
        written = {(int(r[0]), int(r[1])): float(r[2]) for r in csv.reader(handle, delimiter="\t")}
    for context_id, (example, row) in enumerate(zip(examples, scores, strict=True)):
        for j, score in enumerate(row):
            assert score == pytest.approx(written[(context_id, example.candidate_ids[j])],
                                          rel=1e-4, abs=1e-5)  # fmt: skip
    ranked = ranker.rank(examples[0].context, examples[0].candidates,
                         self_persona=examples[0].self_persona, top_k=3)  # fmt: skip
    # One context alone against 40 in a batch: float32 rounding of other GEMM shapes.
    assert [r.score for r in ranked] == pytest.approx(sorted(scores[0], reverse=True)[:3],
                                                      abs=1e-6)  # fmt: skip
    assert examples[0].candidates[ranked[0].index] == ranked[0].text


def test_inputs_the_model_cannot_read_are_refused(trained):
    from personafuse import Ranker

    ranker = Ranker.from_checkpoint(trained / "checkpoints" / "best.ckpt", device="cpu")
    with pytest.raises(ValueError, match="context 0 is empty"):
        ranker.rank([], ["a ."])
    with pytest.raises(ValueError, match="context 0 has no candidates"):
        ranker.rank(["hi ."], [])
    with pytest.raises(ValueError, match="not a single string"):
        ranker.rank("hi .", ["a .", "b ."])
    with pytest.raises(ValueError, match="trained with persona=self: it would not read it"):
        ranker.rank(["hi ."], ["a ."], partner_persona=["i swim ."])
    with pytest.raises(ValueError, match="2 contexts, 1 candidate lists"):
        ranker.score([["hi ."], ["yo ."]], [["a ."]])
    with pytest.raises(ValueError, match="no self_persona, but this model was trained with "
                       "persona=self and reads one"):  # fmt: skip
        ranker.rank(["hi ."], ["a ."])


def test_many_candidates_are_scored_in_passes_with_the_same_scores(trained):
    from personafuse import Ranker

    ranker = Ranker.from_checkpoint(trained / "checkpoints" / "best.ckpt", device="cpu")
    candidates = ["i like dogs .", "i have two cats .", "hiking is fun .", "a .", "b c d ."]
    args = ([["hi ."], ["do you like dogs ?"]], [candidates, candidates[:3]],
            [["i have a dog ."]] * 2)  # fmt: skip
    whole = ranker.score(*args)
    ranker.max_candidates = 2
    parts = ranker.score(*args)
    assert [len(row) for row in parts] == [5, 3]
    for row, expected in zip(parts, whole, strict=True):
        assert row == pytest.approx(expected, abs=1e-6)


def test_a_checkpoint_of_another_version_is_refused(trained, tmp_path):
    import shutil

    import torch

    from personafuse import Ranker

    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    path = copy / "checkpoints" / "best.ckpt"
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    checkpoint[KEY]["version"] = "9.9.0"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"written by personafuse 9\.9\.0"):
        Ranker.from_checkpoint(path)


def test_two_stage_reply_reranks_the_bm25_top_k(trained):
    from personafuse import Ranker
    from personafuse.retrieval import Bm25Retriever, TwoStageResponder
    from personafuse.retrieval.pool import query_words

    ranker = Ranker.from_checkpoint(trained / "checkpoints" / "best.ckpt", device="cpu")
    pool = ["i like dogs .", "i have two cats .", "hiking is fun .", "dogs are good pets .",
            "i work as a nurse ."]  # fmt: skip
    retriever = Bm25Retriever(pool)
    responder = TwoStageResponder(ranker, retriever, first_stage=3)
    context = ["hi !", "do you like dogs or cats ?"]
    replies = responder.reply(context, self_persona=["i have a dog ."], top_k=3)
    first = retriever.top_k(query_words("last_turn+persona", context, ["i have a dog ."]), 3)
    assert sorted(r.index for r in replies) == sorted(first)
    assert all(pool[r.index] == r.text for r in replies)
    expected = ranker.rank(context, [pool[i] for i in first], ["i have a dog ."])
    assert [r.score for r in replies] == [r.score for r in expected]
    with pytest.raises(ValueError, match="first_stage=0: must be an integer ≥ 1"):
        TwoStageResponder(ranker, retriever, first_stage=0)
    with pytest.raises(ValueError, match="query='all': valid choices: last_turn"):
        TwoStageResponder(ranker, retriever, query="all")
