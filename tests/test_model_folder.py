"""A model as one self-describing folder: written by ``save_pretrained``, moved elsewhere and
loaded by ``from_pretrained`` without its training run, without ``conf/`` and without the
pretrained weights it started from, with the scores (or responses) of the original."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CONTEXT = ["hi , how are you ?", "good . do you have any pets ?"]
CANDIDATES = ["i have a dog .", "i like hiking .", "my job is nursing .", "yes , two cats ."]
PERSONA = ["i have a dog .", "i am a nurse ."]
SCORE = f"model.score([{CONTEXT!r}], [{CANDIDATES!r}], [{PERSONA!r}])[0]"

# Run in a fresh process: the folder is the only source (the configs are unreachable).
LOAD = textwrap.dedent("""
    import json, sys
    import personafuse.config as config
    config.CONFIG_DIR = "/nonexistent"
    def refuse(*args, **kwargs):
        raise AssertionError("composed a config")
    config.compose_config = refuse
    from personafuse import {cls}
    model = {cls}.from_pretrained(sys.argv[1], device="cpu")
    print(json.dumps({call}))
""")


def _load_elsewhere(folder: Path, cls: str, call: str, **env) -> object:
    code = LOAD.format(cls=cls, call=call)
    result = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True,
                            text=True, timeout=300, env={**os.environ, **env})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_ranker_folder_moves_and_loads_without_its_run(tiny_hre_run, tmp_path):
    from personafuse import Ranker

    ranker = Ranker.from_checkpoint(tiny_hre_run / "checkpoints" / "best.ckpt", device="cpu")
    expected = ranker.score([CONTEXT], [CANDIDATES], [PERSONA])[0]
    written = ranker.save_pretrained(tmp_path / "written")
    names = {p.name for p in written.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.json", "chars.json", "README.md"} <= names
    moved = shutil.copytree(written, tmp_path / "elsewhere" / "model")
    shutil.rmtree(written)
    scores = _load_elsewhere(moved, "Ranker", SCORE)
    assert scores == pytest.approx(expected, abs=1e-6)

    record = json.loads((moved / "config.json").read_text())
    assert record["format"] == 1 and record["task"] == "ranking"
    assert record["identity"]["weights_sha256"] == ranker.identity["weights_sha256"]
    card = (moved / "README.md").read_text()
    assert "hre" in card and "fusion ra" in card and "persona self" in card
    assert "| test/hits@1 |" in card and "| test/mrr |" in card and "the test split" in card
    assert "python -m personafuse.train" in card and "arxiv.org/abs/2105.09050" in card


def test_a_later_version_loads_a_folder_and_a_newer_format_is_refused(tiny_hre_run, tmp_path):
    from personafuse import Ranker
    from personafuse.checkpoints import CheckpointError

    ranker = Ranker.from_checkpoint(tiny_hre_run / "checkpoints" / "best.ckpt", device="cpu")
    folder = ranker.save_pretrained(tmp_path / "model")
    record = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**record, "version": "9.9.9"}))
    Ranker.from_pretrained(folder, device="cpu")  # the version that wrote it does not matter
    (folder / "config.json").write_text(json.dumps({**record, "format": 2}))
    with pytest.raises(CheckpointError, match=r"folder format 2 .* reads up to 1: upgrade"):
        Ranker.from_pretrained(folder, device="cpu")
    with pytest.raises(CheckpointError, match="not a model folder"):
        Ranker.from_pretrained(tmp_path / "missing", device="cpu")


def _untrained(tiny_bert, *overrides):
    from hydra.utils import instantiate

    from personafuse.config import compose_config
    from personafuse.runs.network import build_network

    cfg = compose_config(overrides=[f"model.pretrained={tiny_bert}", *overrides])
    featurizer = instantiate(cfg.model.featurizer)
    return cfg, featurizer, build_network(cfg, featurizer).eval()


def test_a_bert_folder_needs_neither_the_hub_nor_the_weights_it_started_from(tiny_bert, tmp_path):
    from personafuse import Ranker

    pretrained = shutil.copytree(tiny_bert, tmp_path / "pretrained")
    cfg, featurizer, network = _untrained(pretrained, "model=bert", "fusion=cra",
                                          "model.max_len=64")  # fmt: skip
    ranker = Ranker(network, featurizer, ("self",), config=cfg)
    expected = ranker.score([CONTEXT], [CANDIDATES], [PERSONA])[0]
    folder = ranker.save_pretrained(tmp_path / "model")
    assert (folder / "encoder" / "config.json").is_file() and (folder / "tokenizer").is_dir()
    shutil.rmtree(pretrained)  # model.pretrained points nowhere now
    scores = _load_elsewhere(folder, "Ranker", SCORE, HF_HUB_OFFLINE="1")
    assert scores == pytest.approx(expected, abs=1e-5)


def test_a_generator_folder_generates_what_the_generator_did(tiny_bert, tmp_path):
    from personafuse import ResponseGenerator

    cfg, featurizer, network = _untrained(tiny_bert, "model=unilm", "persona=self")
    generator = ResponseGenerator(network, featurizer, {"strategy": "greedy", "max_length": 8},
                                  ("self",), config=cfg)  # fmt: skip
    expected = generator.generate(CONTEXT, self_persona=PERSONA)
    folder = generator.save_pretrained(tmp_path / "generator")
    reply = _load_elsewhere(folder, "ResponseGenerator",
                            f"model.generate({CONTEXT!r}, self_persona={PERSONA!r})")  # fmt: skip
    assert reply == expected
    assert json.loads((folder / "config.json").read_text())["decoding"]["max_length"] == 8


def test_an_index_of_the_checkpoint_serves_the_folder_of_the_same_weights(tiny_hre_run, tmp_path):
    from personafuse import Ranker
    from personafuse.retrieval import build_index, open_index

    ranker = Ranker.from_checkpoint(tiny_hre_run / "checkpoints" / "best.ckpt", device="cpu")
    build_index(ranker, CANDIDATES * 3, tmp_path / "index", "test")
    folder = ranker.save_pretrained(tmp_path / "model")
    responder = open_index(folder, tmp_path / "index", first_stage=4, device="cpu")
    replies = responder.reply(CONTEXT, self_persona=PERSONA, top_k=2)
    assert len(replies) == 2 and replies[0].text in CANDIDATES


@pytest.mark.parametrize("fusion", ["cra", pytest.param("ra", marks=pytest.mark.slow)])
def test_the_onnx_backends_give_pytorchs_scores(tiny_bert, tmp_path, fusion):
    """float32 ONNX equals PyTorch to 1e-4; int8 stays close (its agreement on a trained
    model is measured in benchmarks/rerank_quality.py)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from personafuse import Ranker
    from personafuse.inference.onnx import export_onnx

    cfg, featurizer, network = _untrained(tiny_bert, "model=bert", f"fusion={fusion}",
                                          "model.max_len=64")  # fmt: skip
    ranker = Ranker(network, featurizer, ("self",), config=cfg)
    contexts = [CONTEXT, CONTEXT[:1], ["what do you do ?"]]
    expected = ranker.score(contexts, [CANDIDATES] * 3, [PERSONA] * 3)
    folder = ranker.save_pretrained(tmp_path / "model")
    written = export_onnx(ranker, folder)
    assert {p.name for p in written.values()} == {"encoder.onnx", "encoder.int8.onnx"}
    fast = Ranker.from_pretrained(folder, device="cpu", backend="onnx")
    assert fast.identity["backend"] == "onnx"
    for got, want in zip(fast.score(contexts, [CANDIDATES] * 3, [PERSONA] * 3), expected,
                         strict=True):  # fmt: skip
        assert got == pytest.approx(want, abs=1e-4)
    small = Ranker.from_pretrained(folder, device="cpu", backend="onnx-int8")
    quantised = small.score(contexts, [CANDIDATES] * 3, [PERSONA] * 3)
    assert all(len(row) == len(CANDIDATES) for row in quantised)
    assert max(abs(a - b) for r, e in zip(quantised, expected, strict=True)
               for a, b in zip(r, e, strict=True)) < 0.5  # fmt: skip


def test_a_backend_without_its_export_is_a_clear_error(tiny_hre_run, tmp_path):
    from personafuse import Ranker
    from personafuse.checkpoints import CheckpointError

    checkpoint = tiny_hre_run / "checkpoints" / "best.ckpt"
    with pytest.raises(CheckpointError, match="reads a model folder"):
        Ranker.load(checkpoint, device="cpu", backend="onnx")
    folder = Ranker.from_checkpoint(checkpoint, device="cpu").save_pretrained(tmp_path / "m")
    with pytest.raises(ValueError, match="only BERT rankers have an ONNX export"):
        Ranker.from_pretrained(folder, device="cpu", backend="onnx")


def test_a_hub_id_the_hub_does_not_give_fails_in_one_line(monkeypatch):
    """``owner/name`` that is no local folder is asked of the hub; the hub's error (offline, no
    such repository, no access) becomes one line naming the id."""
    import huggingface_hub

    from personafuse.inference import Ranker
    from personafuse.text.pretrained import MissingAssetError

    asked = []

    def offline(repo_id, **_):
        asked.append(repo_id)
        raise OSError("We couldn't connect to 'https://huggingface.co'\nsecond line")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(MissingAssetError) as error:
        Ranker.from_pretrained("someone/personafuse-bert-cra", device="cpu")
    assert asked == ["someone/personafuse-bert-cra"]
    assert str(error.value) == (
        "someone/personafuse-bert-cra: not a folder here, and the Hugging Face hub did not give "
        "it (We couldn't connect to 'https://huggingface.co')"
    )
