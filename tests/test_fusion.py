"""Fusion strategies against a per-candidate transcription of Eq. 9–16, and their registry."""

from __future__ import annotations

import sys

import pytest
import torch
import yaml

from personafuse.backbones import BACKBONES
from personafuse.config import CONFIG_DIR
from personafuse.fusion import FUSIONS, BertLayout
from personafuse.registry import Registry, import_modules, import_plugins

ATTENDING = [name for name, strategy in FUSIONS.items() if strategy.attends()]

B, C, N, D = 3, 5, 4, 6


def _inputs(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    context = torch.randn(B, D, generator=generator)
    responses = torch.randn(B, C, D, generator=generator)
    profiles = torch.randn(B, N, D, generator=generator)
    mask = torch.tensor(
        [[True, True, True, True], [True, True, False, False], [True, False, False, False]]
    )
    return context, responses, profiles, mask


def reference(name: str, module, context, responses, profiles, mask) -> torch.Tensor:
    """Eq. 9–16 one context and one candidate at a time, softmax over the real profiles."""
    out = torch.zeros(B, C, D)
    for b in range(B):
        real = profiles[b][mask[b]]
        for c in range(C):
            ctx = context[b, c] if context.dim() == 3 else context[b]
            if name == "na":
                alpha = real @ module.scorer.weight[0] + module.scorer.bias[0]
            elif name == "ca":
                alpha = real @ ctx
            elif name == "ra":
                alpha = real @ responses[b, c]
            else:
                weight = torch.cat(
                    [module.context_projection.weight, module.response_projection.weight], dim=1
                )
                query = weight @ torch.cat([ctx, responses[b, c]]) + module.context_projection.bias
                alpha = real @ query
            out[b, c] = torch.softmax(alpha, dim=0) @ real
    return out


@pytest.mark.parametrize("per_candidate_context", [False, True], ids=["hre-context", "imn-context"])
@pytest.mark.parametrize("name", ["na", "ca", "ra", "cra"])  # the paper's equations
def test_matches_equations(name, per_candidate_context):
    torch.manual_seed(0)
    module = FUSIONS.get(name)(D)
    context, responses, profiles, mask = _inputs()
    if per_candidate_context:  # IMN: the context vector depends on the candidate
        context = context[:, None, :] + torch.randn(B, C, D)
    expected = reference(name, module, context, responses, profiles, mask)
    torch.testing.assert_close(
        module(context, responses, profiles, mask), expected, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("name", ATTENDING)
def test_padded_profiles_never_matter(name):
    module = FUSIONS.get(name)(D)
    context, responses, profiles, mask = _inputs()
    noisy = profiles.clone()
    noisy[~mask] = 1e4
    torch.testing.assert_close(
        module(context, responses, noisy, mask), module(context, responses, profiles, mask)
    )
    empty = module(context, responses, profiles, torch.zeros_like(mask))
    assert torch.equal(empty, torch.zeros(B, C, D))


@pytest.mark.parametrize(
    ("name", "per_candidate"), [("na", False), ("ca", False), ("ra", True), ("cra", True)]
)
def test_which_paper_strategies_depend_on_the_candidate(name, per_candidate):
    module = FUSIONS.get(name)(D)
    context, responses, profiles, mask = _inputs()
    profiles.requires_grad_(True)
    output = module(context, responses, profiles, mask)
    same_for_all = torch.allclose(output, output[:, :1].expand_as(output))
    assert same_for_all != per_candidate
    output.sum().backward()
    assert profiles.grad is not None and profiles.grad[mask].abs().sum() > 0
    assert torch.equal(profiles.grad[~mask], torch.zeros_like(profiles.grad[~mask]))
    assert all(p.grad is not None for p in module.parameters())


@pytest.mark.parametrize("name", ATTENDING)
def test_every_attending_strategy_gives_gradients_to_real_profiles_only(name):
    module = FUSIONS.get(name)(D)
    context, responses, profiles, mask = _inputs()
    profiles.requires_grad_(True)
    output = module(context, responses, profiles, mask)
    assert output.shape == (B, C, D)
    output.sum().backward()
    assert profiles.grad[mask].abs().sum() > 0
    assert torch.equal(profiles.grad[~mask], torch.zeros_like(profiles.grad[~mask]))


def test_every_fusion_yaml_names_a_registered_strategy():
    files = sorted((CONFIG_DIR / "fusion").glob("*.yaml"))
    assert [f.stem for f in files] == FUSIONS.names()
    for path in files:
        assert yaml.safe_load(path.read_text())["name"] == path.stem


def test_the_paper_strategies_serve_every_ranking_backbone_and_ca_the_generator():
    for name in ("na", "ca", "ra", "cra"):
        for _, backbone in BACKBONES.items():
            # Generation reads no response, so only the context-aware layout exists (§5.7).
            expected = backbone.task == "ranking" or name == "ca"
            assert backbone.serves(FUSIONS.get(name)) == expected, (backbone, name)


@pytest.mark.parametrize("name", FUSIONS.names())
def test_every_strategy_serves_some_backbone_and_declares_a_valid_bert_layout(name):
    strategy = FUSIONS.get(name)
    assert any(backbone.serves(strategy) for _, backbone in BACKBONES.items())
    assert strategy.bert is None or isinstance(strategy.bert, BertLayout)


def test_the_paper_bert_layouts():
    assert FUSIONS.get("na").bert == BertLayout(("persona",))
    assert FUSIONS.get("ca").bert == BertLayout(("persona", "context"))
    assert FUSIONS.get("ra").bert == BertLayout(("persona", "response"))
    assert FUSIONS.get("cra").bert == BertLayout(joint=True)
    assert [FUSIONS.get(n).bert.per_candidate for n in ("na", "ca", "ra")] == [False, False, True]


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"persona_pass": ("persona", "title")}, "segment 'title'"),
        ({}, "either persona_pass"),
        ({"persona_pass": ("persona",), "joint": True}, "either persona_pass"),
        ({"persona_pass": ("context",)}, "must read the persona"),
        ({"persona_pass": ("persona", "context", "response")}, "at most two"),
        ({"persona_pass": ("persona", "response"), "per_profile": True}, "per_profile"),
    ],
)
def test_invalid_bert_layouts_are_refused(layout, message):
    with pytest.raises(ValueError, match=message):
        BertLayout(**layout)


def test_a_new_module_in_a_package_registers_itself(tmp_path, monkeypatch):
    """fairseq's plugin loop: every module of the package is imported, none is listed."""
    package = tmp_path / "throwaway_strategies"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_private.py").write_text("raise RuntimeError('never imported')\n")
    (package / "uniform.py").write_text(
        "from personafuse.fusion import FUSIONS, PersonaFusion\n"
        "@FUSIONS.register('throwaway-uniform')\n"
        "class Uniform(PersonaFusion):\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(FUSIONS, "_entries", dict(FUSIONS._entries))
    assert import_modules("throwaway_strategies") == ["uniform"]
    assert "throwaway-uniform" in FUSIONS
    sys.modules.pop("throwaway_strategies.uniform")
    sys.modules.pop("throwaway_strategies")
    with pytest.raises(ImportError, match="plugins: cannot import 'not_a_package'"):
        import_plugins(["not_a_package"])


def test_registry_rejects_duplicates_and_lists_names():
    registry: Registry[type] = Registry("widget")
    registry.register("a")(int)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a")(float)
    with pytest.raises(KeyError, match="valid choices: a"):
        registry.get("b")
    assert "a" in registry and registry.names() == ["a"]
    registry.register("alpha")(str)
    assert "did you mean 'alpha'" in registry.unknown("alpah")
