#!/usr/bin/env python3
"""lm_gpt.py - attend's GPT-style character language model in PyTorch (issue 12).

The twin of src/lm/transformer.c (include/attend/lm.h), so the two can be
compared number for number (tests/parity/test_lm_transformer_parity.py loads
attend's parameters into it with load_state_dict(strict=True)) and speed for
speed (the language-model benchmark imports it). nanoGPT's layout, with
D = width, H = heads, N = layers, T = context, V = vocabulary:

    h = Dropout(tok_embed[ids] + pos_embed[0 .. T))                  (B, T, D)
    for each of the N blocks (pre-LayerNorm):
        h = h + Dropout(MHA_causal(LN1(h)))      nn.MultiheadAttention, query t sees keys 0..t
        h = h + Dropout(proj(GELU(fc(LN2(h)))))  fc (4D, D), proj (D, 4D), exact (erf) GELU
    logits = head(LN_f(h))                                           (B, T, V)

LayerNorm eps 1e-5. Dropout sits in three places (after the embeddings, on
the attention's output projection, on the MLP's output), as attend's; the
attention weights themselves are not dropped (attend's multi-head attention
has no dropout on them), so nn.MultiheadAttention gets dropout=0.

Parameter names are attend's:
    tok_embed.weight (V, D)   pos_embed.weight (T, D)
    blocks.{i}.ln1.weight/.bias (D)
    blocks.{i}.attn.in_proj_weight (3D, D), .in_proj_bias (3D)
    blocks.{i}.attn.out_proj.weight (D, D), .out_proj.bias (D)
    blocks.{i}.ln2.weight/.bias (D)
    blocks.{i}.mlp.fc.weight (4D, D), .bias (4D)
    blocks.{i}.mlp.proj.weight (D, 4D), .bias (D)
    ln_f.weight/.bias (D)     head.weight (V, D), head.bias (V)

Initialisation (nanoGPT): every Linear and Embedding weight (and the packed
in_proj_weight) N(0, 0.02), biases 0, the two residual projections
(attn.out_proj.weight, mlp.proj.weight) N(0, 0.02 / sqrt(2N)), LayerNorm
weight 1, bias 0.

Interface (kept stable; the benchmark builds on it):
    model = GPT(vocab_size, context, layers, heads, width, dropout)
    logits = model(ids)                 ids (B, T) long, 1 <= T <= context -> (B, T, V)
    logits, weights = model.forward_with_attention(ids)
                                        weights (N, B, H, T, T), every layer and head
    loss = model.loss(windows)          windows (B, T + 1): mean cross-entropy (nats) of
                                        windows[:, 1:] given windows[:, :-1], as at_lm_loss
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    """proj(GELU(fc(x))): D -> 4D -> D, then dropout."""

    def __init__(self, width, dropout):
        super().__init__()
        self.fc = nn.Linear(width, 4 * width)
        self.gelu = nn.GELU()  # the exact erf form, as attend's at_gelu
        self.proj = nn.Linear(4 * width, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.proj(self.gelu(self.fc(x))))


class Block(nn.Module):
    """h + Dropout(MHA_causal(LN1(h))), then h + MLP(LN2(h))."""

    def __init__(self, heads, width, dropout):
        super().__init__()
        self.ln1 = nn.LayerNorm(width, eps=1e-5)
        self.attn = nn.MultiheadAttention(width, heads, dropout=0.0, batch_first=True)
        self.attn_drop = nn.Dropout(dropout)
        self.ln2 = nn.LayerNorm(width, eps=1e-5)
        self.mlp = MLP(width, dropout)

    def forward(self, h, mask, need_weights=False):
        x = self.ln1(h)
        a, w = self.attn(x, x, x, attn_mask=mask, need_weights=need_weights,
                         average_attn_weights=False)
        h = h + self.attn_drop(a)
        h = h + self.mlp(self.ln2(h))
        return h, w


class GPT(nn.Module):
    def __init__(self, vocab_size, context, layers, heads, width, dropout=0.0):
        super().__init__()
        if width % heads != 0:
            raise ValueError(f"heads {heads} must divide the width {width}")
        self.vocab_size, self.context = vocab_size, context
        self.layers, self.heads, self.width = layers, heads, width
        self.tok_embed = nn.Embedding(vocab_size, width)
        self.pos_embed = nn.Embedding(context, width)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(heads, width, dropout) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width, eps=1e-5)
        self.head = nn.Linear(width, vocab_size)
        # True above the diagonal: key j > query t is not allowed (PyTorch's
        # bool attn_mask says "masked", the opposite of attend's keep mask).
        causal = torch.triu(torch.ones(context, context, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", causal, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        """nanoGPT's initialisation (see the module docstring)."""
        residual_std = 0.02 / math.sqrt(2 * self.layers)
        for name, p in self.named_parameters():
            if name.endswith("attn.out_proj.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, 0.0, residual_std)
            elif ".ln" in name or name.startswith("ln_f"):
                nn.init.ones_(p) if name.endswith("weight") else nn.init.zeros_(p)
            elif name.endswith("bias"):
                nn.init.zeros_(p)
            else:  # embeddings, in_proj_weight, fc, head
                nn.init.normal_(p, 0.0, 0.02)

    def _run(self, ids, need_weights):
        B, T = ids.shape
        if T < 1 or T > self.context:
            raise ValueError(f"{T} characters, but the model reads 1 .. {self.context}")
        positions = torch.arange(T, device=ids.device)
        h = self.drop(self.tok_embed(ids) + self.pos_embed(positions))
        mask = self.causal[:T, :T]
        weights = []
        for block in self.blocks:
            h, w = block(h, mask, need_weights)
            if need_weights:
                weights.append(w)
        logits = self.head(self.ln_f(h))
        return logits, (torch.stack(weights) if need_weights else None)

    def forward(self, ids):
        """ids (B, T) long -> logits (B, T, V)."""
        return self._run(ids, False)[0]

    def forward_with_attention(self, ids):
        """ids (B, T) -> logits (B, T, V), weights (N, B, H, T, T)."""
        return self._run(ids, True)

    def loss(self, windows):
        """windows (B, T + 1) long -> mean cross-entropy of the next characters."""
        logits = self(windows[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))


if __name__ == "__main__":  # a smoke check: shapes, names, causality
    torch.manual_seed(0)
    m = GPT(vocab_size=11, context=6, layers=2, heads=2, width=8)
    ids = torch.randint(0, 11, (3, 6))
    logits, w = m.forward_with_attention(ids)
    assert logits.shape == (3, 6, 11) and w.shape == (2, 3, 2, 6, 6)
    print(sum(p.numel() for p in m.parameters()), "parameters")
    for name, p in m.state_dict().items():
        print(f"  {name} {tuple(p.shape)}")
