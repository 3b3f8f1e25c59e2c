#!/usr/bin/env python3
"""dates_bench.py - the date translator of bench/dates_bench.c in PyTorch.

The same model, written plainly, with the same sizes and parameter count:

    source ids (B, Tx=20) -> nn.Embedding(Vs=80, E) -> nn.LSTM(E, N,
      bidirectional, batch_first) -> annotations h (B, 20, 2N)
    keys = U_a h + b_a, once per sequence
    s_0 = tanh(init([h_n fwd; h_n bwd])), h~_0 = 0
    for t < Ty = 11 (10 characters + END), teacher-forced:
      x_t = [embed(y_{t-1}) (Vt=15, E); h~_{t-1}]
      s_t = nn.GRUCell(E + S, S)(x_t, s_{t-1})            (input feeding)
      e = v_a . tanh(W_a s_t + keys); alpha = softmax(e); c_t = alpha . h
      h~_t = tanh(W_c [c_t; s_t]);  logits_t = W_s h~_t + b_s
    loss = mean cross-entropy; backward; clip grad norm 1.0; Adam 1e-3.

Random data exactly as attend's: sources 20 characters (ids 4..79), targets
10 characters (ids 4..14) + END; START = 2, END = 3. Translation: greedy
decoding of one 20-character string under torch.no_grad(), the string
encoded to ids and the output decoded back to text, the attention weights
kept (as attend's at_seq2seq_translate does), with the END bias set to -100
so that all 11 steps always run.

Prints three JSON lines: train at batch 32, train at batch 128, translate.
Thread and allocator tuning is the runner's job (bench/run_dates_bench.sh);
this script only calls torch.set_num_threads(--threads).
"""
import argparse
import json
import os
import random
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SOURCE_CHARS = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                " -/.,:'()")
TARGET_CHARS = "0123456789-"
PAD, UNK, START, END = 0, 1, 2, 3
SRC_LEN, TGT_LEN = 20, 10
SIZES = {"small": (64, 32, 64), "large": (64, 256, 256)}  # E, N, S (A = S)


class DateModel(nn.Module):
    def __init__(self, vs, vt, E, N, S, A):
        super().__init__()
        self.source_embed = nn.Embedding(vs, E)
        self.encoder = nn.LSTM(E, N, batch_first=True, bidirectional=True)
        self.target_embed = nn.Embedding(vt, E)
        self.init = nn.Linear(2 * N, S)
        self.cell = nn.GRUCell(E + S, S)
        self.W_a = nn.Linear(S, A, bias=False)
        self.U_a = nn.Linear(2 * N, A)  # b_a
        self.v_a = nn.Linear(A, 1, bias=False)
        self.W_c = nn.Linear(2 * N + S, S, bias=False)
        self.W_s = nn.Linear(S, vt)
        self.S = S

    def encode(self, src):
        h, (h_n, _) = self.encoder(self.source_embed(src))        # (B, Tx, 2N)
        keys = self.U_a(h)                                         # (B, Tx, A)
        s = torch.tanh(self.init(torch.cat((h_n[0], h_n[1]), 1)))  # (B, S)
        h_tilde = s.new_zeros(s.shape)
        return h, keys, s, h_tilde

    def step(self, h, keys, s, h_tilde, prev):
        x = torch.cat((self.target_embed(prev), h_tilde), 1)
        s = self.cell(x, s)
        e = self.v_a(torch.tanh(self.W_a(s).unsqueeze(1) + keys)).squeeze(2)  # (B, Tx)
        alpha = torch.softmax(e, 1)
        c = torch.bmm(alpha.unsqueeze(1), h).squeeze(1)                      # (B, 2N)
        h_tilde = torch.tanh(self.W_c(torch.cat((c, s), 1)))
        return s, h_tilde, self.W_s(h_tilde), alpha

    def forward(self, src, tgt_in):                                # tgt_in (B, Ty)
        h, keys, s, h_tilde = self.encode(src)
        steps = []
        for t in range(tgt_in.shape[1]):
            s, h_tilde, logits, _ = self.step(h, keys, s, h_tilde, tgt_in[:, t])
            steps.append(logits)
        return torch.stack(steps, 1)                               # (B, Ty, Vt)


def make_batch(batch, rng):
    src = torch.tensor([[rng.randrange(4, 4 + len(SOURCE_CHARS)) for _ in range(SRC_LEN)]
                        for _ in range(batch)])
    tgt = [[rng.randrange(4, 4 + len(TARGET_CHARS)) for _ in range(TGT_LEN)] + [END]
           for _ in range(batch)]
    tgt_out = torch.tensor(tgt)
    tgt_in = torch.cat((torch.full((batch, 1), START), tgt_out[:, :-1]), 1)
    return src, tgt_in, tgt_out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--translations", type=int, default=200)
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--label", default="torch")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    rng = random.Random(2)
    E, N, S = SIZES[args.size]
    vs, vt = 4 + len(SOURCE_CHARS), 4 + len(TARGET_CHARS)
    model = DateModel(vs, vt, E, N, S, S)
    params = list(model.parameters())
    n_params = sum(p.numel() for p in params)
    opt = torch.optim.Adam(params, lr=1e-3, foreach=True)
    env = {
        "torch": torch.__version__,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "jemalloc": "jemalloc" in os.environ.get("LD_PRELOAD", ""),
    }

    def emit(d):
        d.update({"impl": "torch", "label": args.label, "size": args.size,
                  "threads": args.threads, "params": n_params})
        d.update(env)
        print(json.dumps(d))
        sys.stdout.flush()

    for batch in batches:
        src, tgt_in, tgt_out = make_batch(batch, rng)
        flat = tgt_out.reshape(-1)

        def step():
            opt.zero_grad(set_to_none=True)
            logits = model(src, tgt_in)
            loss = F.cross_entropy(logits.reshape(-1, vt), flat, ignore_index=PAD)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            return loss.item()

        first = None
        for _ in range(args.warmup):
            loss = step()
            first = loss if first is None else first
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            loss = step()
            times.append((time.perf_counter() - t0) * 1e3)
            first = loss if first is None else first
        emit({"kind": "train", "batch": batch, "source_len": SRC_LEN,
              "target_len": TGT_LEN + 1, "steps": args.steps,
              "median_ms": round(statistics.median(times), 4),
              "min_ms": round(min(times), 4),
              "loss_first": round(first, 5), "loss_last": round(loss, 5)})

    # Translation of one string.
    with torch.no_grad():
        model.W_s.bias[END] = -100.0
    src_id = {c: i + 4 for i, c in enumerate(sorted(SOURCE_CHARS))}
    tgt_char = {i + 4: c for i, c in enumerate(sorted(TARGET_CHARS))}
    text = "".join(rng.choice(SOURCE_CHARS) for _ in range(SRC_LEN))
    model.eval()

    def translate(text):
        with torch.no_grad():
            src = torch.tensor([[src_id.get(c, UNK) for c in text]])
            h, keys, s, h_tilde = model.encode(src)
            prev = torch.full((1,), START)
            out, weights = [], []
            for _ in range(TGT_LEN + 1):
                s, h_tilde, logits, alpha = model.step(h, keys, s, h_tilde, prev)
                prev = logits.argmax(1)
                weights.append(alpha)
                tok = int(prev)
                if tok == END:
                    break
                out.append(tok)
            w = torch.cat(weights, 0).numpy().copy()
            return "".join(tgt_char.get(t, "\ufffd") for t in out), w

    for _ in range(max(5, args.translations // 10)):
        translate(text)
    times = []
    for _ in range(args.translations):
        t0 = time.perf_counter()
        result, _ = translate(text)
        times.append((time.perf_counter() - t0) * 1e3)
    emit({"kind": "translate", "batch": 1, "source_len": len(text), "output_len": len(result),
          "steps": args.translations, "median_ms": round(statistics.median(times), 4),
          "min_ms": round(min(times), 4)})


if __name__ == "__main__":
    main()
