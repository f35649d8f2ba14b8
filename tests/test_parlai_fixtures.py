"""The reader reproduces ParlAI's own parse of the real Persona-Chat files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from personafuse.data import read_personachat

FIXTURES = Path(__file__).parent / "fixtures"
YMLS = sorted((FIXTURES / "personachat" / "parlai").glob("*.yml"))


def _raw_for(yml: Path) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_fixtures", FIXTURES / "personachat" / "build_fixtures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return FIXTURES / "personachat" / "raw" / module.raw_name(yml.name)


def test_every_parlai_fixture_is_present():
    # 7 variants x 3 splits, plus ParlAI's alias names for the original version.
    assert len(YMLS) == 33


@pytest.mark.parametrize("yml", YMLS, ids=lambda p: p.stem)
def test_reader_matches_parlai_parse(yml: Path):
    acts = [act for (act,) in yaml.safe_load(yml.read_text())["acts"]]
    examples = read_personachat(_raw_for(yml))
    assert len(examples) == len(acts)
    history: list[str] = []
    for turn, (act, example) in enumerate(zip(acts, examples, strict=True)):
        *persona_lines, utterance = act["text"].split("\n")
        label = (act.get("labels") or act["eval_labels"])[0]
        # ParlAI puts the persona lines into the text of the first turn only.
        if turn == 0:
            self_lines = [
                p.removeprefix("your persona: ")
                for p in persona_lines
                if p.startswith("your persona:")
            ]
            partner_lines = [
                p.removeprefix("partner's persona: ")
                for p in persona_lines
                if p.startswith("partner's persona:")
            ]
            assert len(self_lines) + len(partner_lines) == len(persona_lines)
            assert list(example.self_persona) == self_lines
            assert list(example.partner_persona) == partner_lines
            first = example
        else:
            assert persona_lines == []
            assert example.self_persona == first.self_persona
            assert example.partner_persona == first.partner_persona
        assert example.context == (*history, utterance)
        assert example.response == label
        assert list(example.candidates) == act["label_candidates"]
        assert example.candidates[example.label] == label
        assert example.label == 19  # the raw files put the true response last
        assert example.dialogue_id == 0 and example.turn == turn
        assert act["episode_done"] is False
        history += [utterance, label]


@pytest.mark.parametrize("yml", YMLS, ids=lambda p: p.stem)
def test_persona_assignment_follows_variant(yml: Path):
    example = read_personachat(_raw_for(yml))[0]
    variant = _raw_for(yml).stem.split("_")[1]
    assert bool(example.self_persona) == (variant in {"self", "both"})
    assert bool(example.partner_persona) == (variant in {"other", "both"})
    personas = [p for p in (example.self_persona, example.partner_persona) if p]
    assert len(personas) == {"none": 0, "self": 1, "other": 1, "both": 2}[variant]
    assert all(3 <= len(persona) <= 5 for persona in personas)


def test_revised_differs_only_in_persona():
    for split in ("train", "valid", "test"):
        raw = FIXTURES / "personachat" / "raw"
        original = read_personachat(raw / f"{split}_both_original.txt")
        revised = read_personachat(raw / f"{split}_both_revised.txt")
        for a, b in zip(original, revised, strict=True):
            assert (a.context, a.candidates, a.label) == (b.context, b.candidates, b.label)
        assert original[0].self_persona != revised[0].self_persona


def test_table1_dialogue_is_the_first_of_both_original_test():
    example = read_personachat(FIXTURES / "personachat" / "raw" / "test_both_original.txt")[0]
    assert example.self_persona[1] == "i have a turtle named timothy."
    assert example.partner_persona[2] == "i run a dog obedience school."


@pytest.mark.parametrize("name", ["train", "valid"])
def test_convai2_no_cands_heads(name: str):
    path = FIXTURES / "convai2" / f"{name}_self_original_no_cands.head.txt"
    examples = read_personachat(path)
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    turn_lines = [line for line in lines if "\t" in line]
    assert len(examples) == len(turn_lines)  # no turn dropped
    assert all(e.candidates == () and e.label is None for e in examples)
    assert all(e.self_persona and not e.partner_persona for e in examples)
    dialogues = sum(1 for line in lines if line.startswith("1 "))
    assert examples[-1].dialogue_id == dialogues - 1
    # every utterance and response appears in order in the last context of each dialogue
    by_dialogue: dict[int, list] = {}
    for e in examples:
        by_dialogue.setdefault(e.dialogue_id, []).append(e)
    for turns in by_dialogue.values():
        last = turns[-1]
        assert len(last.context) == 2 * len(turns) - 1
        assert [t.response for t in turns[:-1]] == list(last.context[1::2])
