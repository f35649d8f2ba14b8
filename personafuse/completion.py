"""Shell completion of config groups, choices and keys for ``python -m personafuse.train`` as
well as ``personafuse-train``: ``eval "$(python -m personafuse.completion bash)"``.

Hydra's own script (``-sc install=bash``) completes ``personafuse-train`` and
``python script.py``, but not ``python -m module`` (it looks for a file named ``-m``). This
script hands Hydra's completion query the line in the form Hydra parses.
"""

from __future__ import annotations

import argparse

__all__ = ["BASH", "main"]

# Completes `python -m personafuse.train …` and the `personafuse-train` console script; any
# other `python …` line falls back to file names (-o default).
BASH = r"""_personafuse_complete()
{
    local words=($COMP_LINE) helper line
    if [[ "${words[0]}" == python* ]]; then
        [[ "${words[1]}" == "-m" && "${words[2]}" == "personafuse.train" ]] || return 0
        helper="${words[0]} -m personafuse.train"
        line="personafuse-train ${COMP_LINE#*personafuse.train}"
    else
        helper="${words[0]}"
        line="$COMP_LINE"
    fi
    local choices
    choices=$(COMP_POINT=${#line} COMP_LINE="$line" $helper -sc query=bash 2>/dev/null)
    COMPREPLY=($(compgen -o nospace -o default -W "$choices" -- "${COMP_WORDS[COMP_CWORD]}"))
}
COMP_WORDBREAKS=${COMP_WORDBREAKS//=}
complete -o nospace -o default -F _personafuse_complete personafuse-train python python3
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m personafuse.completion",
        description="Print a shell script that completes personafuse's config groups, choices "
        'and keys. Install for this shell: eval "$(python -m personafuse.completion bash)"; '
        "for every new shell, add that line to ~/.bashrc.",
    )
    parser.add_argument("shell", choices=["bash"], help="the shell (bash)")
    parser.parse_args(argv)
    print(BASH, end="")


if __name__ == "__main__":
    main()
