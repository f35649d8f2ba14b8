"""A trained model as one self-describing folder: moved, shared or put on a model hub, and
loaded without its training run, without the installed ``conf/`` and by a later personafuse.

    DIR/config.json        what rebuilds the network: the resolved ``model`` config, fusion,
                           persona, the task, the folder format, where it came from
    DIR/model.safetensors  the network's weights
    DIR/vocab.json, chars.json   (HRE/IMN) or DIR/tokenizer/ (BERT, the generator)
    DIR/encoder/config.json      the Hugging Face encoder's architecture (BERT, the generator)
    DIR/README.md          the model card

:meth:`Ranker.save_pretrained <personafuse.inference.Ranker.save_pretrained>` and
``from_pretrained`` (and ``ResponseGenerator``'s) use :func:`save_folder` and
:func:`load_folder`; a name that is not a directory is a Hugging Face hub repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personafuse.checkpoints import CheckpointError, weights_digest

__all__ = ["FORMAT", "LoadedFolder", "load_folder", "push_folder", "save_folder"]

FORMAT = 1  # the folder layout this version writes and reads (older ones read too)
CONFIG, WEIGHTS, ENCODER, CARD = "config.json", "model.safetensors", "encoder", "README.md"
PAPER = ("Gu, Liu, Ling, Liu, Chen, Zhu. Partner Matters! An Empirical Study on Fusing Personas "
         "for Personalized Response Selection in Retrieval-Based Chatbots. SIGIR 2021. "
         "https://arxiv.org/abs/2105.09050")  # fmt: skip


@dataclass
class LoadedFolder:
    """A model folder read back: its ``config.json``, the config it rebuilds the network
    from, the featurizer and the network (eval mode)."""

    path: Path
    record: dict
    cfg: Any
    featurizer: Any
    network: Any

    @property
    def personas(self) -> tuple[str, ...]:
        return tuple(self.record["personas"])

    @property
    def identity(self) -> dict:
        """As a checkpoint's: the same weights give the same ``weights_sha256``."""
        return {**self.record["identity"], "path": str(self.path.resolve())}


def _encoder(network) -> Any:
    """The Hugging Face model inside ``network``, if any (BERT's, the generator's)."""
    from transformers import PreTrainedModel

    return next((m for m in network.modules() if isinstance(m, PreTrainedModel)), None)


def save_folder(directory: str | Path, task: str, cfg, network, featurizer, personas,
                card: dict | None = None, extra: dict | None = None) -> Path:  # fmt: skip
    """Write the model folder (see the module's docstring); returns it.

    Args:
        task: ``ranking`` or ``generation``.
        cfg: The training run's config (its ``model``, ``fusion``, ``persona``, ``dataset``).
        card: What the model card reports: ``metrics`` (metrics.json) and ``command``.
        extra: More entries of ``config.json`` (a generator's decoding settings).
    """
    from omegaconf import OmegaConf
    from safetensors.torch import save_file

    from personafuse import __version__

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    save_file(state, directory / WEIGHTS)
    featurizer.save(directory)
    encoder = _encoder(network)
    if encoder is not None:
        encoder.config.save_pretrained(directory / ENCODER)
    model = OmegaConf.to_container(cfg.model, resolve=True)
    card = dict(card or {})
    identity = {
        "weights_sha256": weights_digest({f"network.{k}": v for k, v in state.items()}),
        "model": cfg.model.name,
        "fusion": cfg.fusion.name if personas else "none",
        "persona": cfg.persona.name,
    }
    record = {
        "format": FORMAT,
        "library": "personafuse",
        "version": __version__,
        "task": task,
        "config": {
            "model": model,
            "fusion": {"name": cfg.fusion.name},
            "persona": {"name": cfg.persona.name, "as_context": bool(cfg.persona.as_context)},
            "dataset": {
                "name": cfg.dataset._target_.rsplit(".", 1)[-1],
                "version": cfg.dataset.version,
            },
            "seed": int(cfg.seed),
        },
        "personas": list(personas),
        "identity": identity,
        "metrics": card.get("metrics", {}),
        "command": card.get("command"),
        **(extra or {}),
    }
    (directory / CONFIG).write_text(json.dumps(record, indent=2))
    (directory / CARD).write_text(_card(record))
    return directory


def _card(record: dict) -> str:
    cfg, metrics = record["config"], record["metrics"]
    fusion = record["identity"]["fusion"]
    lines = [
        "---",
        "library_name: personafuse",
        "tags: [personafuse, persona-chat, response-selection, dialogue]",
        "---",
        "",
        f"# personafuse {cfg['model']['name']} · fusion {fusion} · persona "
        f"{cfg['persona']['name']}",
        "",
        f"A {record['task']} model of [personafuse](https://arxiv.org/abs/2105.09050) "
        f"{record['version']}: backbone `{cfg['model']['name']}`, persona fusion `{fusion}`, "
        f"reads the `{cfg['persona']['name']}` persona"
        + (" as the context" if cfg["persona"]["as_context"] else "")
        + f"; trained on {cfg['dataset']['name']} ({cfg['dataset']['version']} personas), "
        f"seed {cfg['seed']}.",
        "",
        "```python",
        "from personafuse import "
        + ("Ranker" if record["task"] == "ranking" else "ResponseGenerator"),
        f"model = {'Ranker' if record['task'] == 'ranking' else 'ResponseGenerator'}"
        '.from_pretrained("THIS_FOLDER_OR_HUB_ID")',
        "```",
        "",
    ]
    shown = {k: v for k, v in metrics.items()
             if k.split("/")[-1] in ("hits@1", "mrr", "bleu", "perplexity")}  # fmt: skip
    if shown:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in sorted(shown.items())]
        lines += ["", "`test/*`: the test split; `val/*`: the validation split (1 of 20 "
                  "candidates for ranking)."]  # fmt: skip
    else:
        lines.append("No metrics were recorded with this model.")
    if record.get("command"):
        lines += ["", "Trained with:", "", "```bash", record["command"], "```"]
    lines += ["", "Weights digest (SHA-256): `" + record["identity"]["weights_sha256"] + "`",
              "", f"Reference: {PAPER}", ""]  # fmt: skip
    return "\n".join(lines)


def _local(name: str | Path) -> Path:
    """A folder, or a hub repository downloaded into the Hugging Face cache."""
    path = Path(name)
    if path.is_dir():
        return path
    if path.exists() or str(name).count("/") != 1:
        raise CheckpointError(f"{name}: not a model folder (no such directory)")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=str(name)))
    except Exception as err:  # the hub's own errors: offline, no such repository, no access
        from personafuse.text.pretrained import MissingAssetError

        reason = str(err).strip().split("\n")[0]
        raise MissingAssetError(f"{name}: not a folder here, and the Hugging Face hub did "
                                f"not give it ({reason})") from None  # fmt: skip


def load_folder(name: str | Path, device: str = "cpu", task: str | None = None) -> LoadedFolder:
    """Read a model folder (or hub repository) back; ``task`` refuses the other kind.

    Raises:
        CheckpointError: Not a model folder, a newer format, or weights that do not fit.
    """
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf
    from safetensors.torch import load_file

    from personafuse.runs.network import build_network

    path = _local(name)
    try:
        record = json.loads((path / CONFIG).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not a personafuse model folder ({err})") from None
    if record.get("library") != "personafuse" or not isinstance(record.get("format"), int):
        raise CheckpointError(f"{path / CONFIG}: not a personafuse model folder")
    if record["format"] > FORMAT:
        raise CheckpointError(f"{path}: folder format {record['format']} (personafuse "
                              f"{record.get('version')}); this version reads up to {FORMAT}: "
                              "upgrade personafuse")  # fmt: skip
    if task is not None and record["task"] != task:
        use = "personafuse.Ranker" if record["task"] == "ranking" else "ResponseGenerator"
        raise CheckpointError(f"{path}: a {record['task']} model; use {use}")
    cfg = OmegaConf.create({**record["config"], "paths": {"cache_dir": None}})
    featurizer = instantiate(cfg.model.featurizer).load(path)
    state = load_file(str(path / WEIGHTS))
    encoder = path / ENCODER
    try:
        architecture = str(encoder) if encoder.is_dir() else None
        network = build_network(cfg, featurizer, state_dict=state, encoder_config=architecture)
        network.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as err:
        reason = str(err).split("\n")[0]
        raise CheckpointError(f"{path}: cannot rebuild its network: {reason}") from None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return LoadedFolder(path, record, cfg, featurizer, network.eval().to(device))


def push_folder(directory: str | Path, repo_id: str, private: bool = False) -> str:
    """Upload a model folder to the Hugging Face hub (``huggingface-cli login`` first);
    returns the repository's URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    url = api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(repo_id=repo_id, folder_path=str(directory))
    return str(url)
