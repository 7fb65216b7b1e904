"""istvt's relevance rules reproduce the maps of Chefer et al.'s reference code.

``../shared/data/reference/lrp-vit`` holds a small ViT, two inputs and the maps the
reference implementation (hila-chefer/Transformer-Explainability) computed for them,
in float32 and float64. The ViT is rebuilt from istvt's own blocks
(``tests/helpers/lrp_vit.py``) and explained with istvt's own recorded forward pass,
relevance pass, rules, Eq. 4 and rollout: the maps must agree to 1e-5 of each map's
maximum in float64. The remaining difference (up to ~5e-6) is the denominator
stabiliser, which istvt pushes away from zero with the denominator's sign where the
reference adds +1e-9 whatever the sign (docs/interpretability.md).
"""

import pytest
import torch

from .conftest import shared_path
from .helpers.lrp_vit import ReferenceViT, explain

#: (our method, rollout start, the reference's map)
MAPS = [
    ("transformer_attribution", 0, "transformer_attribution"),
    ("transformer_attribution", 1, "transformer_attribution_start_layer1"),
    ("rollout", 0, "rollout"),
    ("rollout", 1, "rollout_start_layer1"),
    ("attn_last_layer", 0, "attn_last_layer"),
]


@pytest.fixture(scope="module")
def reference():
    ref = shared_path("data", "reference", "lrp-vit")
    state = torch.load(ref / "vit_state_dict.pt", weights_only=True)
    io = torch.load(ref / "io.pt", weights_only=True)
    return state, io


def _ours(model, x, method, index, start):
    # the reference explains one image at a time (its generators read element 0)
    return torch.cat([explain(model, x[i : i + 1], method, index, start) for i in range(len(x))])


def _relative(ours, theirs):
    return ((ours - theirs).abs().amax(1) / theirs.abs().amax(1)).max().item()


def test_the_rebuilt_vit_gives_the_reference_logits(reference):
    state, io = reference
    model = ReferenceViT.from_reference(state).double()
    with torch.no_grad():
        torch.testing.assert_close(
            model(io["x"].double()), io["logits_float64"], rtol=0, atol=1e-12
        )
        torch.testing.assert_close(ReferenceViT.from_reference(state)(io["x"]), io["logits"])


@pytest.mark.parametrize("method,start,name", MAPS, ids=[m[2] for m in MAPS])
@pytest.mark.parametrize("index", [0, 1])
def test_maps_match_the_reference_in_float64(reference, method, start, name, index):
    state, io = reference
    model = ReferenceViT.from_reference(state).double()
    ours = _ours(model, io["x"].double(), method, index, start)
    theirs = io["maps_float64"][name][index]
    assert _relative(ours, theirs) < 1e-5, (ours, theirs)
    # the top patch of each image, the figure a user looks at
    assert ours.argmax(1).tolist() == theirs.argmax(1).tolist()


@pytest.mark.parametrize("method,start,name", MAPS, ids=[m[2] for m in MAPS])
def test_maps_match_the_reference_in_float32(reference, method, start, name):
    """float32 in a different operation order: within 2e-3 of the map's maximum (the
    reference's own float32 maps differ from its float64 ones by up to 1.5e-3)."""
    state, io = reference
    model = ReferenceViT.from_reference(state)
    for index in (0, 1):
        ours = _ours(model, io["x"], method, index, start)
        assert _relative(ours, io["maps"][name][index]) < 2e-3


def test_worked_fact_of_the_reference_readme(reference):
    """Image 0, class 1: the top patch is 7 (row 1, column 3) with 0.0032428, and the
    map sums to 0.0158124."""
    state, io = reference
    model = ReferenceViT.from_reference(state).double()
    ours = _ours(model, io["x"].double(), "transformer_attribution", 1, 0)[0]
    assert ours.argmax().item() == 7
    assert ours[7].item() == pytest.approx(0.0032428, abs=5e-7)
    assert ours.sum().item() == pytest.approx(0.0158124, abs=5e-7)


def test_a_wrong_rule_is_caught(reference, monkeypatch):
    """The check has teeth: without the halving of the attention relevance, or with the
    head fusion of an earlier reading of Eq. 4 (mean over heads, then clamp), the maps
    leave the tolerance."""
    from istvt.interpret import relevance, rules

    state, io = reference
    model = ReferenceViT.from_reference(state).double()
    x, theirs = io["x"].double(), io["maps_float64"]["transformer_attribution"][1]

    def unhalved(a, b, r):
        s = rules.safe_div(r, a @ b)
        return a * (s @ b.transpose(-2, -1)), b * (a.transpose(-2, -1) @ s)

    with monkeypatch.context() as m:
        m.setattr(rules, "matmul", unhalved)
        assert _relative(_ours(model, x, "transformer_attribution", 1, 0), theirs) > 1e-3
    with monkeypatch.context() as m:
        fused = relevance.lrp_matrix
        m.setattr(relevance, "lrp_matrix", lambda r, g, _: fused(r, g, "mean_then_clamp"))
        assert _relative(_ours(model, x, "transformer_attribution", 1, 0), theirs) > 1e-3
