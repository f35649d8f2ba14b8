"""Chat in the terminal with a trained ranker over an indexed response pool:
``python -m personafuse.chat ckpt_path=PATH index=DIR``.

The bot answers each message with the best pool response for the dialogue so far and its
persona: BM25's top ``first_stage`` responses, reranked by the model. Standard input may be
a pipe (one message or command a line), for scripts and tests.

Commands:
    /persona                     show the bot's and the user's persona
    /persona bot S1 | S2 | …     set the bot's persona (the model's self persona)
    /persona user S1 | S2 | …    set the user's persona (the model's partner persona)
    /persona bot                 clear it (likewise for user)
    /top N                       show the N best replies with scores (1: the reply alone)
    /reset                       start a new dialogue (personas are kept)
    /quit                        leave (also end of input or Ctrl-D)

Arguments:
    ckpt_path: The ranker's checkpoint (``RUN_DIR/checkpoints/best.ckpt``) or model folder
        (``Ranker.save_pretrained``; or a Hugging Face hub repository holding one).
    index: The directory ``python -m personafuse.index`` wrote for that checkpoint.
    bot_persona, user_persona: Initial personas, sentences separated by ``|``.
    top: Replies shown per turn (default 1).
    first_stage: BM25 candidates reranked per turn (default 10; docs/benchmarks.md has the
        recall and latency of each size).
    query: What BM25 searches the pool with: ``last_turn+persona`` (default: the last
        utterance and the bot's persona), ``last_turn``, ``dialogue+persona`` or ``dialogue``.
    backend: ``torch`` (default), or for a BERT model folder ``onnx`` / ``onnx-int8``.

Examples::

    python -m personafuse.index ckpt_path=RUN/checkpoints/best.ckpt --out RUN/index
    python -m personafuse.chat ckpt_path=RUN/checkpoints/best.ckpt index=RUN/index
    printf 'hi , do you have pets ?\\n/top 3\\n' | python -m personafuse.chat \\
        ckpt_path=RUN/checkpoints/best.ckpt index=RUN/index bot_persona='i have a dog .'
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChatSession", "main", "split_persona"]

ARGUMENTS = ("ckpt_path", "index", "bot_persona", "user_persona", "top", "first_stage", "query",
             "backend")  # fmt: skip
# Who each persona is to the model: the bot responds, so its persona is "self".
ROLES = {"bot": "self", "user": "partner"}


def split_persona(text: str) -> list[str]:
    """Profile sentences separated by ``|``, blank ones dropped."""
    return [sentence.strip() for sentence in text.split("|") if sentence.strip()]


@dataclass
class ChatSession:
    """A dialogue with the bot: its state and the commands, without any terminal I/O.

    Args:
        responder: A :class:`~personafuse.retrieval.TwoStageResponder`.
        top: Replies shown per turn.
    """

    responder: Any  # a personafuse.retrieval.TwoStageResponder
    top: int = 1
    personas: dict[str, list[str]] = field(default_factory=lambda: {"bot": [], "user": []})
    history: list[str] = field(default_factory=list)

    @property
    def reads(self) -> tuple[str, ...]:
        """Which personas the model reads: ``self`` and/or ``partner``."""
        return self.responder.ranker.personas

    def missing_persona(self) -> str | None:
        """What to set before the model can answer, when it reads a persona not set yet."""
        for who, role in ROLES.items():
            if role in self.reads and not self.personas[who]:
                return (f"this model reads the {who}'s persona: set it with /persona {who} "
                        f"S1 | S2 | … (or start with {who}_persona=…)")  # fmt: skip
        return None

    def say(self, message: str):
        """The user's message; returns the ``top`` best replies (the first is the bot's
        answer, added to the dialogue)."""
        self.history.append(message)
        replies = self.replies()
        self.history.append(replies[0].text)
        return replies

    def replies(self):
        """The ``top`` best replies to the dialogue so far (ending with the user's turn)."""
        personas = {
            f"{ROLES[who]}_persona": sentences or None
            for who, sentences in self.personas.items()
            if ROLES[who] in self.reads
        }
        return self.responder.reply(self.history, top_k=self.top, **personas)

    def command(self, line: str) -> tuple[str, list]:
        """Run a ``/command``; returns (a message, replies to show)."""
        name, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if name == "/persona":
            return self._persona(rest), []
        if name == "/top":
            if not rest.isdecimal() or int(rest) < 1:
                return f"/top {rest}: give a number ≥ 1, e.g. /top 5", []
            self.top = int(rest)
            if self.history and not self.missing_persona():
                # Show them for the last message, as if it had just been said.
                last = self.history.pop()
                replies = self.replies()
                self.history.append(last)
                return f"the {self.top} best replies to the last message:", replies
            return f"showing the {self.top} best replies from the next message on", []
        if name == "/reset":
            self.history.clear()
            return "new dialogue (personas kept)", []
        return f"unknown command {name}; commands: /persona, /top N, /reset, /quit", []

    def _persona(self, rest: str) -> str:
        who, _, sentences = rest.partition(" ")
        if who in ROLES:
            self.personas[who] = split_persona(sentences)
        elif who:
            return f"/persona {who}: say /persona bot … or /persona user …"
        lines = []
        for name, role in ROLES.items():
            shown = " | ".join(self.personas[name]) or "(none)"
            note = "" if role in self.reads else " — this model does not read it"
            lines.append(f"{name} persona: {shown}{note}")
        return "\n".join(lines)


def _print_replies(console, replies, top: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    if top > 1:
        table = Table("#", "score", "reply", box=None, header_style="bold")
        for rank, reply in enumerate(replies, 1):
            table.add_row(str(rank), f"{reply.score:.4f}", escape(reply.text))
        console.print(table)
    console.print(f"[bold green]bot:[/] {escape(replies[0].text)}", highlight=False)


def _lines(console, interactive: bool):
    from rich.markup import escape
    from rich.prompt import Prompt

    while True:
        try:
            line = (
                Prompt.ask("[bold cyan]you[/]", console=console)
                if interactive
                else next(sys.stdin).rstrip("\n")
            )
        except (EOFError, KeyboardInterrupt, StopIteration):
            return
        if not interactive:
            console.print(f"[bold cyan]you:[/] {escape(line)}", highlight=False)
        yield line


def main(argv: list[str] | None = None) -> None:
    from personafuse.cli import wants_help

    argv = sys.argv[1:] if argv is None else argv
    if wants_help(argv, __doc__):
        return
    from personafuse.cli import choice, one_line_errors, parse_arguments, positive_int
    from personafuse.terminal import table_console

    console = table_console()
    from personafuse.retrieval.responder import DEFAULT_FIRST_STAGE, DEFAULT_QUERY

    with one_line_errors():
        own, _ = parse_arguments(argv, ARGUMENTS, ("ckpt_path", "index"))
        top = positive_int(own, "top", 1)
        first_stage = positive_int(own, "first_stage", DEFAULT_FIRST_STAGE)
        from personafuse.inference.onnx import BACKENDS
        from personafuse.retrieval import open_index
        from personafuse.retrieval.pool import QUERIES

        query = choice(own, "query", QUERIES, DEFAULT_QUERY)
        backend = choice(own, "backend", BACKENDS, "torch")
        responder = open_index(own["ckpt_path"], own["index"], first_stage, backend=backend,
                               query=query)  # fmt: skip
    session = ChatSession(responder, top)
    for who in ROLES:
        session.personas[who] = split_persona(own.get(f"{who}_persona", ""))
    identity = responder.ranker.identity
    console.print(
        f"chat: model={identity['model']} fusion={identity['fusion']} "
        f"persona={identity['persona']} over {len(responder.pool):,} responses "
        f"({own['index']}); /persona, /top N, /reset, /quit",
        highlight=False,
    )
    console.print(session.command("/persona")[0], highlight=False, markup=False)
    for line in _lines(console, sys.stdin.isatty()):
        if not line.strip():
            continue
        if line.strip() in ("/quit", "/exit"):
            break
        if line.startswith("/"):
            message, replies = session.command(line)
            console.print(message, highlight=False, markup=False)
            if replies:
                _print_replies(console, replies, session.top)
            continue
        if missing := session.missing_persona():
            console.print(missing, highlight=False, markup=False)
            continue
        _print_replies(console, session.say(line), session.top)


if __name__ == "__main__":
    main()
