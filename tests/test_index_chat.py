"""The response pool index (stored, memory-mapped encodings bound to one checkpoint) and the
terminal chat over it, piped as a script would."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from personafuse.retrieval import (
    Bm25Retriever,
    PoolIndexError,
    TwoStageResponder,
    build_index,
    load_index,
)

CONTEXT = ["hi , how are you ?", "good . do you have any pets ?"]


@pytest.fixture(scope="module")
def hre_index(tiny_hre_run, tmp_path_factory):
    """The train split's pool, indexed through the command line."""
    from personafuse.index import main

    out = tmp_path_factory.mktemp("index") / "idx"
    main([f"ckpt_path={tiny_hre_run / 'checkpoints' / 'best.ckpt'}", "--out", str(out)])
    return out


def _ranker(run):
    from personafuse import Ranker

    return Ranker.from_checkpoint(run / "checkpoints" / "best.ckpt", device="cpu")


def test_stored_encodings_give_the_scores_of_recomputing_them(tiny_hre_run, hre_index):
    ranker = _ranker(tiny_hre_run)
    stored = load_index(hre_index, ranker, first_stage=50)
    vectors = stored.encodings["response_vectors"]
    assert isinstance(vectors, np.memmap)  # read from disk per query, not loaded
    assert vectors.shape == (len(stored.pool), 4 * 8)  # (N, 4h): HRE's r̄
    assert stored.encodings["tokens.offsets"].shape == (len(stored.pool) + 1,)
    for persona in (["i have a dog ."], ["i like hiking .", "i am a nurse ."]):
        replies = stored.reply(CONTEXT, self_persona=persona, top_k=10)
        ranker.featurizer.forget()  # recompute everything, tokenization included
        again = TwoStageResponder(ranker, Bm25Retriever(stored.pool), 50)
        expected = again.reply(CONTEXT, self_persona=persona, top_k=10)
        assert [r.index for r in replies] == [r.index for r in expected]
        assert [r.score for r in replies] == pytest.approx([r.score for r in expected], abs=1e-6)


def test_the_index_records_its_pool_and_checkpoint(tiny_hre_run, hre_index, capsys):
    import json

    from hydra.utils import instantiate

    from personafuse.retrieval import pool_from_examples

    record = json.loads((hre_index / "index.json").read_text())
    ranker = _ranker(tiny_hre_run)
    datamodule = instantiate(ranker.config.datamodule)
    datamodule.prepare_data()
    pool = pool_from_examples(datamodule.load_split("train"))
    assert record["pool"]["size"] == len(pool)
    assert record["pool"]["source"] == "train split"
    assert load_index(hre_index, ranker).pool == pool
    assert record["checkpoint"] == ranker.identity


def test_an_index_refuses_another_checkpoint(tiny_hre_run, hre_index, tmp_path):
    import shutil

    import torch

    from personafuse.checkpoints import stamp

    copy = tmp_path / "run"
    shutil.copytree(tiny_hre_run, copy)
    path = copy / "checkpoints" / "best.ckpt"
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    name = next(k for k in checkpoint["state_dict"] if k.endswith("scorer.4.bias"))
    checkpoint["state_dict"][name] += 1.0  # another model: same shapes, other weights
    stamp(checkpoint, [])
    torch.save(checkpoint, path)
    with pytest.raises(PoolIndexError, match=r"was built for .*model=hre fusion=ra persona=self"):
        load_index(hre_index, _ranker(copy))
    with pytest.raises(PoolIndexError, match="not a response index"):
        load_index(tmp_path, _ranker(tiny_hre_run))
    (tmp_path / "index.json").write_text('{"format": 1}')
    with pytest.raises(PoolIndexError, match=r"index\.json: damaged .*rebuild the index"):
        load_index(tmp_path, _ranker(tiny_hre_run))


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ("blank", r"pool\.txt:2: a blank line"),
        ("tran", r"pool=tran: neither a split \(train, valid, test\) nor a file"),
    ],
)
def test_index_command_names_the_bad_pool(tiny_hre_run, tmp_path, capsys, pool, message):
    from personafuse.index import main

    if pool == "blank":
        pool = tmp_path / "pool.txt"
        pool.write_text("i like dogs .\n\nhiking is fun .\n")
    with pytest.raises(SystemExit) as exit_:
        main([f"ckpt_path={tiny_hre_run / 'checkpoints' / 'best.ckpt'}", f"pool={pool}",
              f"out={tmp_path / 'idx'}"])  # fmt: skip
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ")
    assert __import__("re").search(message, err)


def test_bert_index_stores_tokenization_and_scores_as_recomputed(tiny_bert, tmp_path):
    from omegaconf import open_dict

    from personafuse import Ranker
    from personafuse.config import compose_config
    from personafuse.runs.network import build_network

    cfg = compose_config(overrides=["model=bert", f"model.pretrained={tiny_bert}", "fusion=ca"])
    with open_dict(cfg):
        cfg.model.max_len = 64
    from hydra.utils import instantiate

    featurizer = instantiate(cfg.model.featurizer)
    ranker = Ranker(build_network(cfg, featurizer), featurizer, ("self",),
                    identity={"weights_sha256": "tiny"})  # fmt: skip
    pool = ["i like dogs .", "i have two cats .", "hiking is fun .", "do you have pets ?",
            "my dog is called rex ."]  # fmt: skip
    record = build_index(ranker, pool, tmp_path / "idx", source="test")
    assert set(record["encodings"]) == {"tokens.offsets", "tokens.ids"}  # a cross-encoder
    stored = load_index(tmp_path / "idx", ranker, first_stage=4)
    replies = stored.reply(CONTEXT, self_persona=["i have a dog ."], top_k=4)
    featurizer.forget()
    expected = TwoStageResponder(ranker, Bm25Retriever(pool), 4).reply(
        CONTEXT, self_persona=["i have a dog ."], top_k=4
    )
    assert [(r.index, r.text) for r in replies] == [(r.index, r.text) for r in expected]
    assert [r.score for r in replies] == pytest.approx([r.score for r in expected], abs=1e-6)


def test_piped_chat_session(tiny_hre_run, hre_index):
    script = "\n".join([
        "/persona bot i have a dog . | i like hiking .",
        "hi , how are you ?",
        "/top 3",
        "good . do you have any pets ?",
        "/persona user i am a nurse .",
        "/top zero",
        "/top ²",
        "/reset",
        "/quit",
        "never read",
    ])  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "personafuse.chat",
         f"ckpt_path={tiny_hre_run / 'checkpoints' / 'best.ckpt'}", f"index={hre_index}"],
        input=script + "\n", capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    # What the bot said equals the two-stage reply for the same dialogue and persona.
    responder = load_index(hre_index, _ranker(tiny_hre_run))
    persona = ["i have a dog .", "i like hiking ."]
    first = responder.reply(["hi , how are you ?"], self_persona=persona, top_k=3)
    dialogue = ["hi , how are you ?", first[0].text, "good . do you have any pets ?"]
    second = responder.reply(dialogue, self_persona=persona, top_k=3)
    bot_lines = [line for line in out.splitlines() if line.startswith("bot: ")]
    assert bot_lines == [f"bot: {first[0].text}"] * 2 + [f"bot: {second[0].text}"]
    table = out.split("the 3 best replies to the last message:")[1].splitlines()[1:5]
    assert [row.split()[0] for row in table[1:]] == ["1", "2", "3"]
    assert f"{first[1].score:.4f}" in table[2] and first[1].text in table[2]
    assert "user persona: i am a nurse . — this model does not read it" in out
    assert "/top zero: give a number ≥ 1" in out and "/top ²: give a number ≥ 1" in out
    assert "new dialogue (personas kept)" in out
    assert "never read" not in out.split("you: /quit")[1]


def test_chat_refuses_an_index_of_another_model(tiny_hre_run, tmp_path, capsys):
    from personafuse.chat import main

    with pytest.raises(SystemExit) as exit_:
        main([f"ckpt_path={tiny_hre_run / 'checkpoints' / 'best.ckpt'}", f"index={tmp_path}"])
    assert exit_.value.code == 1
    assert "not a response index (no index.json)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([f"ckpt_path={tiny_hre_run / 'checkpoints' / 'best.ckpt'}", "indx=x"])
    assert "indx: unknown argument (did you mean 'index'?)" in capsys.readouterr().err
    for bad, message in [
        ("query=all", "query=all: valid choices: last_turn+persona, last_turn"),
        ("backend=gpu", "backend=gpu: valid choices: torch, onnx, onnx-int8"),
    ]:
        with pytest.raises(SystemExit):
            main([f"ckpt_path={tiny_hre_run / 'checkpoints' / 'best.ckpt'}", "index=x", bad])
        assert message in capsys.readouterr().err
