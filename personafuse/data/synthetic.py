"""Synthetic persona corpus in the exact Persona-Chat file naming and format.

Each persona fact is an attribute slot (pet, job, ...) with a value; its original wording
names the value ("i have a dog."), its revised paraphrase avoids the value's words ("i share my
home with a loyal barking companion."). Every responder turn is one of:

- ``self``: the responder talks about one of its own persona facts;
- ``topic``: it picks up a fact mentioned earlier in the context;
- ``partner``: it asks about a partner fact that the partner has not mentioned yet;
- ``generic``: small talk that no information can predict.

Negatives are true responses of other dialogues of the same split. So context beats chance,
the self persona adds most, the partner persona adds less but some, and revised personas are
harder than original ones, which `benchmarks/lexical_overlap.py` measures.

Usage::

    python -m personafuse.data.synthetic --out DIR [--seed S] [--train N --valid N --test N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from personafuse.config import ConfigError
from personafuse.data.sources import SPLITS, VARIANTS, PersonaChatFiles

__all__ = [
    "GENERATOR_VERSION",
    "REPLY_KINDS",
    "SyntheticPersonaChat",
    "generate_corpus",
    "main",
]

GENERATOR_VERSION = 1
NUM_CANDIDATES = 20
# Probability of each responder turn kind (see the module docstring).
REPLY_KINDS = {"self": 0.45, "topic": 0.25, "partner": 0.15, "generic": 0.15}
DEFAULT_DIALOGUES = {"train": 1000, "valid": 100, "test": 100}


@cache
def _lexicon() -> dict:
    text = resources.files("personafuse.data").joinpath("synthetic_lexicon.yaml").read_text()
    return yaml.safe_load(text)


@dataclass(frozen=True)
class _Fact:
    slot: str
    value: str
    original: str
    revised: str


@dataclass
class _Dialogue:
    self_facts: list[_Fact]
    partner_facts: list[_Fact]
    turns: list[tuple[str, str, str]] = field(default_factory=list)  # utterance, response, kind


def _persona(rng: random.Random, exclude: set[str]) -> list[_Fact]:
    slots = _lexicon()["slots"]
    facts = []
    for slot in rng.sample(sorted(slots), rng.randint(3, 5)):
        spec = slots[slot]
        value = rng.choice([v for v in spec["values"] if v not in exclude])
        wording = rng.randrange(len(spec["persona"]))
        facts.append(
            _Fact(
                slot,
                value,
                original=spec["persona"][wording].format(v=value),
                revised=spec["revised"][wording].format(r=spec["values"][value]),
            )
        )
    return facts


def _say(rng: random.Random, fact: _Fact, act: str) -> str:
    return rng.choice(_lexicon()["slots"][fact.slot][act]).format(v=fact.value)


def _dialogue(rng: random.Random) -> _Dialogue:
    lexicon = _lexicon()
    self_facts = _persona(rng, exclude=set())
    dialogue = _Dialogue(self_facts, _persona(rng, exclude={f.value for f in self_facts}))
    unmentioned_self = list(self_facts)
    unmentioned_partner = list(dialogue.partner_facts)
    mentioned: list[_Fact] = []  # facts of either speaker in the context, oldest first
    last_self_fact: _Fact | None = None
    for turn in range(rng.randint(5, 9)):
        # The partner speaks first: its own fact, a reaction to the responder, or small talk.
        roll = rng.random()
        if turn == 0:
            utterance = rng.choice(lexicon["greetings"])
            if roll < 0.5 and unmentioned_partner:
                fact = unmentioned_partner.pop(rng.randrange(len(unmentioned_partner)))
                utterance += " " + _say(rng, fact, "mention")
                mentioned.append(fact)
        elif roll < 0.5 and unmentioned_partner:
            fact = unmentioned_partner.pop(rng.randrange(len(unmentioned_partner)))
            utterance = _say(rng, fact, "mention")
            mentioned.append(fact)
        elif roll < 0.75 and last_self_fact is not None:
            utterance = _say(rng, last_self_fact, "react")
        else:
            utterance = rng.choice(lexicon["generic_partner"])

        kind = rng.choices(list(REPLY_KINDS), weights=list(REPLY_KINDS.values()))[0]
        if kind == "topic" and not mentioned:
            kind = "self"
        if kind == "partner" and not unmentioned_partner:
            kind = "topic" if mentioned else "self"
        last_self_fact = None
        if kind == "self":
            pool = unmentioned_self or self_facts
            fact = pool[rng.randrange(len(pool))]
            if fact in unmentioned_self:
                unmentioned_self.remove(fact)
            response = _say(rng, fact, "mention")
            mentioned.append(fact)
            last_self_fact = fact
        elif kind == "topic":
            response = _say(rng, mentioned[-1], "react")
        elif kind == "partner":
            response = _say(rng, rng.choice(unmentioned_partner), "ask")
        else:
            response = rng.choice(lexicon["generic_replies"])
        dialogue.turns.append((utterance, response, kind))
    return dialogue


def _candidates(
    rng: random.Random, pool: list[tuple[int, str]], owner: int, true: str
) -> list[str]:
    """19 true responses of other dialogues, all different from ``true`` and each other."""
    chosen: list[str] = []
    while len(chosen) < NUM_CANDIDATES - 1:
        dialogue_index, text = pool[rng.randrange(len(pool))]
        if dialogue_index != owner and text != true and text not in chosen:
            chosen.append(text)
    return [*chosen, true]  # the raw Persona-Chat files put the true response last


def _render(
    dialogues: list[_Dialogue],
    candidates: list[list[list[str]]],
    variant: str,
    with_candidates: bool,
) -> str:
    persona, version = variant.split("_")
    attribute = "original" if version == "original" else "revised"
    lines = []
    for dialogue, dialogue_candidates in zip(dialogues, candidates, strict=True):
        numbered = []
        if persona in ("self", "both"):
            numbered += [f"your persona: {getattr(f, attribute)}" for f in dialogue.self_facts]
        if persona in ("other", "both"):
            numbered += [
                f"partner's persona: {getattr(f, attribute)}" for f in dialogue.partner_facts
            ]
        for (utterance, response, _), cands in zip(
            dialogue.turns, dialogue_candidates, strict=True
        ):
            tail = f"\t\t{'|'.join(cands)}" if with_candidates else ""
            numbered.append(f"{utterance}\t{response}{tail}")
        lines += [f"{index} {text}" for index, text in enumerate(numbered, start=1)]
    return "\n".join(lines) + "\n"


def generate_corpus(
    out_dir: str | os.PathLike, seed: int = 0, dialogues: dict[str, int] | None = None
) -> dict:
    """Write every split and variant into ``out_dir`` (created atomically) and a manifest.

    Args:
        out_dir: Target directory; must not exist or be empty.
        seed: Generation seed; the same seed and sizes give byte-identical files.
        dialogues: Number of dialogues per split (defaults: 1000 / 100 / 100).

    Returns:
        The manifest (also written to ``manifest.json``).
    """
    sizes = {**DEFAULT_DIALOGUES, **(dialogues or {})}
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists and is not empty")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    manifest: dict = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "splits": {},
        "files": {},
    }
    try:
        for split in SPLITS:
            rng = random.Random(f"personafuse-synthetic:{seed}:{split}")
            split_dialogues = [_dialogue(rng) for _ in range(sizes[split])]
            pool = [(i, r) for i, d in enumerate(split_dialogues) for (_, r, _) in d.turns]
            if len({text for _, text in pool}) < NUM_CANDIDATES * 2:
                raise ConfigError(
                    f"dataset.dialogues.{split}={sizes[split]}: too few dialogues for "
                    f"{NUM_CANDIDATES} distinct candidates per turn; use at least 10"
                )
            candidates = [
                [_candidates(rng, pool, i, r) for (_, r, _) in d.turns]
                for i, d in enumerate(split_dialogues)
            ]
            kinds: dict[str, int] = dict.fromkeys(REPLY_KINDS, 0)
            for d in split_dialogues:
                for *_, kind in d.turns:
                    kinds[kind] += 1
            manifest["splits"][split] = {
                "dialogues": len(split_dialogues),
                "turns": sum(len(d.turns) for d in split_dialogues),
                "reply_kinds": kinds,
            }
            for variant in VARIANTS:
                for with_candidates in (True, False):
                    name = f"{split}_{variant}{'' if with_candidates else '_no_cands'}.txt"
                    data = _render(split_dialogues, candidates, variant, with_candidates).encode()
                    (staging / name).write_bytes(data)
                    manifest["files"][name] = hashlib.sha256(data).hexdigest()
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        (staging / "README.txt").write_text(
            "Synthetic persona corpus generated by personafuse (not Persona-Chat).\n"
            "Numbers measured on it are never comparable with the paper's.\n"
        )
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


class SyntheticPersonaChat(PersonaChatFiles):
    """The synthetic corpus as a data set: generated into ``cache_dir`` on first use.

    Args:
        cache_dir: Parent directory; the corpus lives in a subdirectory named by its
            generator version, seed and sizes, so different settings never collide.
        version: ``original`` or ``revised`` personas.
        seed: Generation seed.
        dialogues: Number of dialogues per split.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        version: str = "original",
        seed: int = 0,
        dialogues: dict[str, int] | None = None,
    ):
        self.seed = seed
        self.dialogues = {**DEFAULT_DIALOGUES, **dict(dialogues or {})}
        sizes = "-".join(str(self.dialogues[s]) for s in SPLITS)
        name = f"synthetic-v{GENERATOR_VERSION}-seed{seed}-{sizes}"
        super().__init__(Path(cache_dir).expanduser() / name, version)

    def prepare(self) -> None:
        """Generate the corpus unless it is already in the cache (safe under concurrency)."""
        if (self.data_dir / "manifest.json").is_file():
            return
        try:
            generate_corpus(self.data_dir, self.seed, self.dialogues)
        except OSError:  # FileExistsError included
            # Another process of a multirun may have finished the same corpus first.
            if not (self.data_dir / "manifest.json").is_file():
                raise

    def split_path(self, split: str, persona: str) -> Path:
        self.prepare()
        return super().split_path(split, persona)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m personafuse.data.synthetic",
        description=__doc__.split("\n\n")[0],
        epilog="examples:\n"
        "  python -m personafuse.data.synthetic --out /tmp/synthetic --seed 0\n"
        "  python -m personafuse.data.synthetic --out /tmp/small --train 100 --valid 20 --test 20\n"
        "training makes (and caches) its own corpus: python -m personafuse.train "
        "dataset=synthetic",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, help="directory to create")
    parser.add_argument("--seed", type=int, default=0)
    for split in SPLITS:
        parser.add_argument(
            f"--{split}",
            type=int,
            default=DEFAULT_DIALOGUES[split],
            help=f"dialogues in {split} (default {DEFAULT_DIALOGUES[split]})",
        )
    args = parser.parse_args(argv)
    try:
        manifest = generate_corpus(args.out, args.seed, {s: getattr(args, s) for s in SPLITS})
    except (FileExistsError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    from rich.table import Table

    from personafuse.terminal import table_console

    table = Table(title=f"synthetic persona corpus (seed {args.seed}) in {args.out}")
    for column in ("split", "dialogues", "turns", *REPLY_KINDS):
        table.add_column(column, justify="right")
    for split, info in manifest["splits"].items():
        kinds = [str(info["reply_kinds"][k]) for k in REPLY_KINDS]
        table.add_row(split, str(info["dialogues"]), str(info["turns"]), *kinds)
    table_console().print(table)


if __name__ == "__main__":
    main()
