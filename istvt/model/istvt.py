"""The ISTVT network: Xception entry flow -> token grid -> decomposed-attention blocks.

Token grid (paper §III, authors' ``DSTTr``): for a clip of T frames the entry flow gives
T maps of C x h x w (728 x 19 x 19 at 300x300). Each map position is a token (no
projection at C = 728). Every frame row gets a spatial cls token in front, a learnable
position embedding is added to the T frame rows, and a temporal cls row is put on top:
I has shape (T+1) x (hw+1) x C. The output token (0, 0) feeds the head.

Variants (``ModelConfig.attention``, paper Table III) differ only in the block body:

=================== ==========================================================
temporal_first      x + S(T(x))       (ISTVT; one residual around both)
spatial_first       x + T(S(x))
parallel            x + T(x) + S(x)
joint               x + J(x)          (attention over all tokens)
spatial_only        x + S(x)          (no temporal cls row; head: mean of frame cls)
temporal_only       x + T(x)          (no spatial cls column; head: mean of cls row)
factorised_encoder  spatial encoder per frame, then a temporal encoder over frame
                    cls tokens (ViViT model 2, the authors' ``ViViT`` class)
=================== ==========================================================

each followed by ``x + FFN(x)``; T, S, J are pre-norm attentions (LayerNorm inside).
"""

from __future__ import annotations

import torch
from torch import nn

from istvt.config import ENTRY_FLOW_CHANNELS, ModelConfig
from istvt.model.attention import Attention
from istvt.model.xception import XceptionEntryFlow, load_xception_weights


class PreNormAttention(nn.Module):
    """LayerNorm followed by attention along one axis (no residual)."""

    def __init__(self, cfg: ModelConfig, axis: str, self_subtract: bool = False) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.attn = Attention(
            cfg.embed_dim, cfg.num_heads, cfg.dim_head, axis, self_subtract, cfg.dropout
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(self.norm(x))


class FeedForward(nn.Module):
    """Pre-norm MLP: LayerNorm -> Linear -> GELU -> Linear."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(self.norm(x))))))


class Block(nn.Module):
    """One transformer block of the given attention layout on a (B, R, P, C) grid."""

    def __init__(self, cfg: ModelConfig, layout: str) -> None:
        super().__init__()
        self.layout = layout
        ss = cfg.self_subtract
        if layout in ("temporal_first", "spatial_first", "parallel", "temporal_only"):
            self.temporal = PreNormAttention(cfg, "temporal", self_subtract=ss)
        if layout in ("temporal_first", "spatial_first", "parallel", "spatial_only"):
            self.spatial = PreNormAttention(cfg, "spatial")
        if layout == "joint":
            self.joint = PreNormAttention(cfg, "joint")
        self.ff = FeedForward(cfg.embed_dim, cfg.mlp_dim, cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layout = self.layout
        if layout == "temporal_first":
            x = self.spatial(self.temporal(x)) + x
        elif layout == "spatial_first":
            x = self.temporal(self.spatial(x)) + x
        elif layout == "parallel":
            x = self.temporal(x) + self.spatial(x) + x
        elif layout == "joint":
            x = self.joint(x) + x
        elif layout == "spatial_only":
            x = self.spatial(x) + x
        else:  # temporal_only
            x = self.temporal(x) + x
        return self.ff(x) + x


class ISTVT(nn.Module):
    """Interpretable spatial-temporal video transformer (one fake logit per clip).

    Input: (B, T, 3, H, W) float frames, already normalised; output: (B,) logits,
    positive = fake.
    """

    def __init__(self, cfg: ModelConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or ModelConfig()
        self.cfg = cfg
        d = cfg.embed_dim
        variant = cfg.attention
        # Which cls tokens the layout has: the temporal cls row needs a temporal mixing
        # step, the spatial cls column a spatial one.
        self.has_temporal_row = variant not in ("spatial_only", "factorised_encoder")
        self.has_space_token = variant != "temporal_only"

        self.entry_flow = XceptionEntryFlow()
        if cfg.xception_weights:
            load_xception_weights(self.entry_flow, cfg.xception_weights)
        self.embed = (
            nn.Identity() if d == ENTRY_FLOW_CHANNELS else nn.Linear(ENTRY_FLOW_CHANNELS, d)
        )
        positions = cfg.feature_size**2 + int(self.has_space_token)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.sequence_length, positions, d))
        self.space_token = nn.Parameter(torch.zeros(1, 1, 1, d)) if self.has_space_token else None
        self.temporal_token = (
            nn.Parameter(torch.zeros(1, 1, 1, d)) if variant != "spatial_only" else None
        )
        if variant == "factorised_encoder":
            self.blocks = nn.ModuleList(Block(cfg, "spatial_only") for _ in range(cfg.num_layers))
            self.temporal_blocks = nn.ModuleList(
                Block(cfg.replace(self_subtract=False), "temporal_only")
                for _ in range(cfg.num_layers)
            )
            self.temporal_norm = nn.LayerNorm(d)
        else:
            self.blocks = nn.ModuleList(Block(cfg, variant) for _ in range(cfg.num_layers))
            self.temporal_blocks = None
        self.norm = nn.LayerNorm(d)
        self.head_norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 1)
        self._init_weights()
        # NHWC entry flow on every device: on a 1-thread AVX-512 CPU a demo-size training
        # step runs 1.47x and inference 2x faster than NCHW (benchmarks/model_speed.py
        # compares both); the authors'-style baseline there switches it off
        self.set_channels_last(True)
        self.checkpoint_blocks = False  # set_activation_checkpointing

    def _init_weights(self) -> None:
        """``model.init``: ``vit`` (timm's ViT scheme: truncated normal, std 0.02, zero
        biases) or ``authors`` (the authors' code: N(0, 1) tokens and position
        embedding, PyTorch's default linear layers, as constructed)."""
        tokens = (self.pos_embed, self.space_token, self.temporal_token)
        if self.cfg.init == "authors":
            for p in tokens:
                if p is not None:
                    nn.init.normal_(p)
            return
        for p in tokens:
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    # ------------------------------------------------------------------ runtime switches
    def set_attention_impl(self, impl: str) -> None:
        """'sdpa' for ``F.scaled_dot_product_attention``, 'explicit' for softmax(qk^T)v."""
        if impl not in ("sdpa", "explicit"):
            raise ValueError(f"attention impl must be 'sdpa' or 'explicit', got {impl!r}")
        for m in self.modules():
            if isinstance(m, Attention):
                m.fused = impl == "sdpa"

    def set_channels_last(self, enabled: bool = True) -> None:
        """Run the entry-flow convolutions in NHWC layout."""
        self.entry_flow.set_channels_last(enabled)

    def set_activation_checkpointing(self, enabled: bool = True) -> None:
        """In training, keep only each transformer block's input and recompute its
        activations in the backward pass: less memory for one more block forward. The
        entry flow is not checkpointed: recomputing its BatchNorm layers in training
        mode would update their running statistics twice."""
        self.checkpoint_blocks = enabled

    def _block(self, blk: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.checkpoint_blocks and self.training and torch.is_grad_enabled():
            from torch.utils.checkpoint import checkpoint

            return checkpoint(blk, x, use_reentrant=False)
        return blk(x)

    # ------------------------------------------------------------------------- forward
    def tokens(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) frames -> (B, R, P, C) token grid before the first block."""
        b, t = frames.shape[:2]
        if t != self.cfg.sequence_length:
            raise ValueError(
                f"clip has {t} frames but the model was built for sequence_length="
                f"{self.cfg.sequence_length}"
            )
        return self.tokens_from_features(self._entry_flow(frames.flatten(0, 1)), b)

    def _entry_flow(self, frames: torch.Tensor) -> torch.Tensor:
        """The entry flow; in eval mode under a 16-bit autocast it runs in fp32: rounding
        the pixels and the first convolutions to bf16 moved a trained demo model's fake
        probability by up to 0.03-0.06 against fp32, the entry flow in fp32 by 0.002
        (a few % of a paper-size model's multiply-adds). Training keeps the autocast."""
        device = frames.device.type
        if self.training or device not in ("cpu", "cuda") or not torch.is_autocast_enabled(device):
            return self.entry_flow(frames)
        with torch.autocast(device, enabled=False):
            return self.entry_flow(frames.float())

    def tokens_from_features(self, feats: torch.Tensor, batch: int) -> torch.Tensor:
        """(B*T, 728, h, w) entry-flow maps -> (B, R, P, C) token grid."""
        b, t = batch, feats.shape[0] // batch
        x = self.embed(feats.flatten(2).transpose(1, 2))  # (B*T, hw, C)
        x = x.reshape(b, t, x.shape[1], x.shape[2])
        if self.space_token is not None:
            x = torch.cat((self.space_token.expand(b, t, 1, -1), x), dim=2)
        x = x + self.pos_embed
        if self.has_temporal_row:
            x = torch.cat((self.temporal_token.expand(b, 1, x.shape[2], -1), x), dim=1)
        return x

    def forward_features(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) -> (B, C) pooled representation fed to the head."""
        return self.forward_tokens(self.tokens(frames))

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, R, P, C) token grid (:meth:`tokens`) -> (B, C): the transformer blocks,
        the final norm and the variant's readout."""
        for blk in self.blocks:
            x = self._block(blk, x)
        x = self.norm(x)
        variant = self.cfg.attention
        if variant == "factorised_encoder":
            b = x.shape[0]
            x = x[:, :, :1]  # frame cls tokens: (B, T, 1, C)
            x = torch.cat((self.temporal_token.expand(b, 1, 1, -1), x), dim=1)
            for blk in self.temporal_blocks:
                x = self._block(blk, x)
            x = self.temporal_norm(x)
            return x[:, 1:, 0].mean(dim=1) if self.cfg.readout == "mean" else x[:, 0, 0]
        if self.cfg.readout == "mean":  # every frame token, no cls token
            rows, cols = int(self.has_temporal_row), int(self.has_space_token)
            return x[:, rows:, cols:].mean(dim=(1, 2))
        if variant == "spatial_only":
            return x[:, :, 0].mean(dim=1)
        if variant == "temporal_only":
            return x[:, 0].mean(dim=1)
        return x[:, 0, 0]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_norm(self.forward_features(frames))).squeeze(-1)


def build_model(cfg: ModelConfig | None = None) -> ISTVT:
    """Build an ISTVT model from a config (random init unless weights are configured)."""
    return ISTVT(cfg)
