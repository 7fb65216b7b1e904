"""The self-blend augmentation of the learning ladder (istvt.selfblend)."""

import torch

from istvt.selfblend import add_self_blends, self_blend


def _clips(b: int = 3, t: int = 4, s: int = 48) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    # a textured picture: blending a lower-resolution copy of it changes the face region
    return torch.randint(0, 256, (b, t, 3, s, s), generator=gen, dtype=torch.uint8)


def test_blend_changes_the_face_and_keeps_the_corners():
    clips = _clips()
    out, mask = self_blend(clips, torch.Generator().manual_seed(0))
    assert out.shape == clips.shape and out.dtype == torch.uint8
    assert mask.shape == (3, 4, 1, 48, 48)
    assert float(mask.min()) >= 0 and float(mask.max()) <= 1
    diff = (out.float() - clips.float()).abs().mean(dim=2)  # (B, T, S, S)
    centre, corner = diff[..., 20:28, 20:28].mean(), diff[..., :4, :4].mean()
    assert centre > 20, "the face region is not replaced by the re-rendered copy"
    assert corner < 2, "pixels far outside the mask must stay as they were"
    # the mask is where the change is
    assert float(mask[..., 20:28, 20:28].mean()) > 0.5 > float(mask[..., :4, :4].mean())


def test_blend_is_deterministic_in_the_generator():
    clips = _clips()
    a, _ = self_blend(clips, torch.Generator().manual_seed(5))
    b, _ = self_blend(clips, torch.Generator().manual_seed(5))
    c, _ = self_blend(clips, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_add_self_blends_appends_fakes_of_reals_only():
    clips = _clips(b=4)
    y = torch.tensor([0.0, 1.0, 0.0, 1.0])
    x2, y2 = add_self_blends(clips, y, 1.0, torch.Generator().manual_seed(0))
    assert len(x2) == 6 and y2.tolist() == [0.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    assert torch.equal(x2[:4], clips)
    # the blends are made of the two reals (0 and 2), not of the fakes
    corner = lambda v: v[..., :4, :4].float()  # noqa: E731
    assert torch.allclose(corner(x2[4]), corner(clips[0]), atol=2)
    assert torch.allclose(corner(x2[5]), corner(clips[2]), atol=2)


def test_probability_zero_changes_nothing_and_draws_nothing():
    clips, y = _clips(), torch.zeros(3)
    gen = torch.Generator().manual_seed(3)
    x2, y2 = add_self_blends(clips, y, 0.0, gen)
    assert x2 is clips and y2 is y
    assert torch.equal(gen.get_state(), torch.Generator().manual_seed(3).get_state())
