#!/usr/bin/env python3
"""train_step.py - the PyTorch side of the train-step benchmark.

The idea: time one whole training step of a small sequence-to-sequence
model - the kind a character-level date translator uses - and compare it
with the same step in attend (bench/train_step.c). Both sides build the same
model on the same shapes, feed it the same kind of data, and print the same
JSON line, so bench/run_train_step.sh can put them side by side.

The model (identical in both programs):
    source ids (B, Tx=30)  -> Embedding(V=60, 64)            (B, 30, 64)
                           -> BiLSTM(64 -> 32 per direction)  h_n (2, B, 32)
    h0 = tanh(Dense(64 -> 64)(concat(h_n[0], h_n[1])))        (B, 64)
    decoder inputs (B, Ty=10) -> Embedding(V, 64)              (B, 10, 64)
    for t in 0..Ty-1: h = GRUCell(64, 64)(emb[:, t], h)        teacher forcing,
                                                               one step at a time
    logits = Dense(64 -> V)(stack(h_1..h_Ty))                  (B, 10, V)
    loss = mean cross-entropy; backward; clip_grad_norm(1.0); Adam step.

One step = zero the gradients, forward, backward, clip, Adam. Each timed step
runs on the same batch (random ids from a fixed seed), so the loss must fall:
the first and last losses are printed as a check that the step really trains.

Run it tuned, as /work/shared/BENCHMARKING.md asks (bench/run_train_step.sh
does this, through bench/peer_env.sh): with the OpenBLAS core type measured
fastest on this machine, OPENBLAS_NUM_THREADS = --threads and jemalloc
preloaded. The script itself
only calls torch.set_num_threads(--threads) and reports the environment it
found, so the same file measures both the tuned and the as-found peer.

    /usr/bin/python3 bench/train_step.py --batch 32 --threads 1 --steps 30
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 60
EMBED = 64
ENC_HIDDEN = 32  # per direction
DEC_HIDDEN = 64
SRC_LEN = 30
TGT_LEN = 10


class Seq2Seq(nn.Module):
    """BiLSTM encoder, Dense+tanh bridge, GRUCell decoder, Dense output."""

    def __init__(self):
        super().__init__()
        self.enc_embed = nn.Embedding(VOCAB, EMBED)
        self.encoder = nn.LSTM(EMBED, ENC_HIDDEN, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * ENC_HIDDEN, DEC_HIDDEN)
        self.dec_embed = nn.Embedding(VOCAB, EMBED)
        self.cell = nn.GRUCell(EMBED, DEC_HIDDEN)
        self.out = nn.Linear(DEC_HIDDEN, VOCAB)

    def forward(self, src, dec_in):
        x = self.enc_embed(src)                                   # (B, Tx, 64)
        _, (h_n, _) = self.encoder(x)                             # (2, B, 32)
        h = torch.tanh(self.bridge(torch.cat((h_n[0], h_n[1]), 1)))  # (B, 64)
        e = self.dec_embed(dec_in)                                # (B, Ty, 64)
        hs = []
        for t in range(dec_in.shape[1]):
            h = self.cell(e[:, t], h)                             # (B, 64)
            hs.append(h)
        return self.out(torch.stack(hs, 1))                       # (B, Ty, V)


def make_batch(batch, gen):
    """Random source ids and a target sequence; decoder input is BOS + target[:-1]."""
    src = torch.randint(1, VOCAB, (batch, SRC_LEN), generator=gen)
    tgt = torch.randint(1, VOCAB, (batch, TGT_LEN), generator=gen)
    dec_in = torch.cat((torch.zeros(batch, 1, dtype=torch.long), tgt[:, :-1]), 1)
    return src, dec_in, tgt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--label", default="", help="free text copied into the JSON line")
    args = ap.parse_args()
    if args.batch < 1 or args.threads < 1 or args.steps < 1 or args.warmup < 0:
        ap.error("batch, threads and steps must be >= 1, warmup >= 0")

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(2)
    model = Seq2Seq()
    params = list(model.parameters())
    # foreach=True: the multi-tensor Adam, measured ~0.5 ms faster here.
    opt = torch.optim.Adam(params, lr=1e-3, foreach=True)
    src, dec_in, tgt = make_batch(args.batch, gen)
    flat_tgt = tgt.reshape(-1)

    def step(phases):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(src, dec_in)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), flat_tgt)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        t3 = time.perf_counter()
        phases.append(((t3 - t0) * 1e3, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3))
        return loss.item()

    warm = []
    first_loss = None
    for _ in range(args.warmup):
        loss = step(warm)
        if first_loss is None:
            first_loss = loss
    timed = []
    for _ in range(args.steps):
        loss = step(timed)
        if first_loss is None:
            first_loss = loss
    total, fwd, bwd, upd = (list(col) for col in zip(*timed))

    preload = os.environ.get("LD_PRELOAD", "")
    print(json.dumps({
        "impl": "torch",
        "label": args.label,
        "batch": args.batch,
        "threads": args.threads,
        "steps": args.steps,
        "warmup": args.warmup,
        "median_ms": round(statistics.median(total), 4),
        "min_ms": round(min(total), 4),
        "params": sum(p.numel() for p in params),
        "loss_first": round(first_loss, 5),
        "loss_last": round(loss, 5),
        "forward_ms": round(statistics.median(fwd), 4),
        "backward_ms": round(statistics.median(bwd), 4),
        "update_ms": round(statistics.median(upd), 4),
        "torch": torch.__version__,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "jemalloc": "jemalloc" in preload,
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
