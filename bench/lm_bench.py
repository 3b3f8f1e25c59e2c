#!/usr/bin/env python3
"""lm_bench.py - attend's Transformer language model trained in PyTorch for a
wall-clock budget: the PyTorch side of issue 12's side-by-side benchmark.

The idea: give PyTorch the same model, the same text, the same split, the
same batches and the same optimiser as `attend lm train`, and the same
minutes; then compare how many characters a second each trains on and which
validation loss each reaches. Everything that decides what is learned
mirrors attend (include/attend/lm.h, src/lm/, src/train/), so the two differ
only in how fast they run:

  text     the file's characters (code points, strict UTF-8); the first
           90% train, the last 10% validate (contiguous: valid =
           max(1, chars * 10 // 100), as at_lm_text_read)
  vocab    ids 0..3 PAD, UNK, START, END, then the training part's distinct
           characters in increasing code-point order; a validation
           character the training part lacks reads as UNK
  model    bench/lm_gpt.py's GPT (nanoGPT's layout, attend's parameter
           names and initialisation); 4 layers x 4 heads x 128 wide,
           context 64 by default, as attend's
  batches  windows of context + 1 characters of the training part, their
           starts (every position that fits: train_len - context of them)
           in a seeded shuffle per pass; a new pass when a full batch no
           longer fits (attend's trainer); loss = mean cross-entropy of the
           window's last `context` characters given the ones before
  step     zero the gradients, loss, backward, clip the global gradient
           norm at 1, Adam (lr 1e-3, betas (0.9, 0.99), eps 1e-8, no weight
           decay) at the schedule's rate for update s = 1, 2, ...:
               s < W (100):  lr * s / W
               after:        lr/10 + (lr - lr/10) * (1 + cos(pi q)) / 2,
                             q = (s - W) / (--steps - W) clamped to [0, 1]
  clock    the training steps only (batch assembly and the data order
           included, evaluation excluded); a step starts while the clock
           is under --minutes (0: no limit) and the step count under --steps
  evaluate as at_lm_evaluate (src/lm/evaluate.c): consecutive windows of
           `context` validation characters, window w reading ids[wT ..
           wT+T) and predicting ids[wT+1 .. wT+T], the last shorter window
           included; the mean over the n - 1 predictions, in nats and bits

The peer at its best (/work/shared/BENCHMARKING.md): bench/run_lm_bench.sh
runs this script in the environment bench/peer_env.sh finds by measuring
(OpenBLAS's fastest kernels here, OPENBLAS_NUM_THREADS, jemalloc,
OMP_WAIT_POLICY=PASSIVE at 2 threads); here: torch.set_num_threads(N), Adam
with foreach=True, gradients set to None rather than zeroed, and of two
ways to compute the same attention the faster:
  --attention manual (the default)  causal self-attention written out: one
      product for Q, K, V, one copy into (B*H, T, d) heads, baddbmm adding
      the causal mask, softmax, bmm, one copy back, out_proj; a module that
      keeps nn.MultiheadAttention's parameters under its names
      (in_proj_weight, in_proj_bias, out_proj), so the model is the same
      (tests/lm_bench_test.py checks logits, weights and gradients);
  --attention mha  nn.MultiheadAttention: in torch 1.13's training mode
      F.multi_head_attention_forward, the same products with a transpose
      to (T, B, D) and back, and Q, K, V made contiguous one by one.
The written-out one does less copying and is the default; measured here
(4 x 4 x 128, context 64, batch 64, tuned, alternating steps; the machine
was busy, load average 6 on its 2 cores, so these are within noise): the
fastest step 303 against 312 ms at 1 thread, 359 against 327 ms at 2.
So the bench measures before it runs: `--time-attention ROUNDS` times a
training step of each alternately and names the faster, and
run_lm_bench.sh runs the peer with that one.

Output: progress on stderr; one JSON line on stdout (steps, train_seconds,
tokens = steps x batch x context, tokens_per_s, valid_nats, valid_bpc,
params, the configuration and the environment the peer ran in).

    lm_bench.py [--data FILE|moby-dick] [--minutes M] [--steps N] [--threads N]
                [--layers 4 --heads 4 --width 128 --context 64 --batch 64 ...]
    lm_bench.py --data FILE --load-attend MODEL.safetensors --steps 0
                # evaluate one of attend's models with this script's evaluation
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import peer_info  # bench/, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))                 # lm_gpt
sys.path.insert(0, os.path.join(ROOT, "tests", "parity"))       # safetensors_io

SPECIALS = ["<pad>", "<unk>", "<start>", "<end>"]
UNK = 1
VALID_PERCENT = 10
BOOK = "moby-dick"
MAX_TEXT_BYTES = 1 << 30


def die(message):
    print(f"lm_bench: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def log(text):
    print(f"lm_bench: {text}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------- data

def book_path(data):
    """FILE, or for 'moby-dick' the path scripts/data.sh prints (fetching it
    once), $ATTEND_MOBY_DICK first, as attend's --data."""
    if data != BOOK:
        return data
    if os.environ.get("ATTEND_MOBY_DICK"):
        return os.environ["ATTEND_MOBY_DICK"]
    proc = subprocess.run([os.path.join(ROOT, "scripts", "data.sh"), BOOK],
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        die("scripts/data.sh moby-dick failed; give --data FILE")
    return proc.stdout.strip()


def read_split(path):
    """(training text, validation text) as attend's at_lm_text_read splits
    the file: by characters, the last VALID_PERCENT% validate."""
    try:
        with open(path, "rb") as f:
            blob = f.read(MAX_TEXT_BYTES + 1)
    except OSError as e:
        die(f"cannot read {path}: {e.strerror}")
    if len(blob) > MAX_TEXT_BYTES:
        die(f"{path}: more than {MAX_TEXT_BYTES} bytes")
    if not blob:
        die(f"{path}: the file is empty")
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as e:
        die(f"{path}: not UTF-8 at byte {e.start} (a language model reads UTF-8 text)")
    if "\0" in text:
        die(f"{path}: a NUL byte at byte {blob.index(0)}")
    if len(text) < 2:
        die(f"{path}: {len(text)} character(s); a language model needs at least 2")
    valid = max(len(text) * VALID_PERCENT // 100, 1)
    return text[:len(text) - valid], text[len(text) - valid:]


def make_vocab(np, train_text):
    """The training part's distinct code points, increasing (ids 4, 5, ...)."""
    return np.array(sorted({ord(c) for c in train_text}), dtype=np.uint32)


def encode(np, text, code_points):
    """Ids of text's characters (UNK for the unknown) and how many were unknown."""
    cps = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    where = np.minimum(np.searchsorted(code_points, cps), len(code_points) - 1)
    known = code_points[where] == cps
    ids = np.where(known, where.astype(np.int64) + len(SPECIALS), UNK)
    return ids, int((~known).sum())


# ------------------------------------------------------------------ model

def causal_attention_class(torch, nn, F):
    """A module with nn.MultiheadAttention's parameters (in_proj_weight,
    in_proj_bias, out_proj) and call, computing its causal self-attention
    written out; takes over an existing nn.MultiheadAttention's tensors."""

    class CausalSelfAttention(nn.Module):
        def __init__(self, mha):
            super().__init__()
            self.num_heads = mha.num_heads
            self.in_proj_weight = mha.in_proj_weight      # (3D, D): Wq; Wk; Wv
            self.in_proj_bias = mha.in_proj_bias          # (3D)
            self.out_proj = mha.out_proj                  # Linear(D, D)

        def forward(self, query, key, value, attn_mask=None, need_weights=False,
                    average_attn_weights=False):
            """query = key = value = x (B, T, D); attn_mask (T, T) bool, True =
            masked (PyTorch's convention) -> out (B, T, D), weights
            (B, H, T, T) or None."""
            B, T, D = query.shape
            H = self.num_heads
            d = D // H
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)     # (B, T, 3D)
            q, k, v = qkv.view(B, T, 3, H, d).permute(2, 0, 3, 1, 4).reshape(3, B * H, T, d)
            bias = torch.zeros(T, T, dtype=query.dtype).masked_fill_(attn_mask, -math.inf)
            scores = torch.baddbmm(bias, q, k.transpose(1, 2), alpha=1.0 / math.sqrt(d))
            weights = torch.softmax(scores, dim=-1)                            # (BH, T, T)
            out = torch.bmm(weights, v)                                        # (BH, T, d)
            out = out.view(B, H, T, d).transpose(1, 2).reshape(B, T, D)
            shown = weights.view(B, H, T, T) if need_weights else None
            return self.out_proj(out), shown

    return CausalSelfAttention


def build_model(torch, nn, F, args, vocab_size, attention):
    """GPT with `attention` (manual or mha: the same parameters, the same
    initial values for the same seed)."""
    from lm_gpt import GPT
    torch.manual_seed(args.seed)
    try:
        model = GPT(vocab_size, args.context, args.layers, args.heads, args.width, args.dropout)
    except ValueError as e:
        die(str(e))
    if attention == "manual":
        use_manual_attention(torch, nn, F, model)
    return model


def use_manual_attention(torch, nn, F, model):
    """Every block's nn.MultiheadAttention replaced by the written-out one,
    which keeps its parameter tensors (so the names and values stay)."""
    cls = causal_attention_class(torch, nn, F)
    for block in model.blocks:
        block.attn = cls(block.attn)


def count_formula(args, vocab_size):
    """Parameters of the transformer by attend's shapes (checked against the model)."""
    V, T, D, N = vocab_size, args.context, args.width, args.layers
    block = (2 * D + (3 * D * D + 3 * D) + (D * D + D)                # ln1, attention
             + 2 * D + (4 * D * D + 4 * D) + (4 * D * D + D))          # ln2, mlp
    return V * D + T * D + N * block + 2 * D + (V * D + V)


def load_attend(torch, model, path):
    """Weights from an attend checkpoint; every name and shape must match."""
    import numpy as np
    import safetensors_io
    try:
        tensors, _ = safetensors_io.read(path)
    except (OSError, ValueError) as e:
        die(f"cannot read the attend checkpoint {path}: {e}")
    state = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in tensors.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        die(f"{path} does not fit this configuration: {e}")


# ------------------------------------------------------------- evaluation

def evaluate(torch, F, model, ids, context, batch, max_chars=0):
    """(mean nats, predictions) of ids (n,) long as at_lm_evaluate: windows
    of `context` characters, each window's first one read, not predicted."""
    n = len(ids) if max_chars <= 0 or max_chars >= len(ids) else max_chars
    if n < 2:
        die(f"the validation text has {n} character(s) (at least 2)")
    T = context
    full = (n - 1) // T
    total = 0.0

    def score(starts, length):
        windows = ids[starts[:, None] + torch.arange(length + 1)]           # (b, length + 1)
        logits = model(windows[:, :-1])                                      # (b, length, V)
        logp = F.log_softmax(logits, dim=-1)
        picked = logp.gather(-1, windows[:, 1:, None])                       # (b, length, 1)
        return -picked.double().sum().item()

    was_training = model.training
    model.eval()
    with torch.no_grad():
        for w in range(0, full, batch):
            count = min(batch, full - w)
            total += score(torch.arange(w, w + count) * T, T)
        rest = n - 1 - full * T
        if rest > 0:
            total += score(torch.tensor([full * T]), rest)
    model.train(was_training)
    return total / (n - 1), n - 1


# --------------------------------------------------------------- training

def schedule(args, step):
    """attend's at_schedule (cosine to lr/10) for update `step` (1, 2, ...)."""
    base, final, W, S = args.lr, args.lr / 10, args.warmup, args.steps
    if step < W:
        return base * step / W
    span = S - W
    q = 1.0 if span <= 0 else min(max((step - W) / span, 0.0), 1.0)
    return final + (base - final) * 0.5 * (1.0 + math.cos(math.pi * q))


class Windows:
    """The training windows in attend's trainer's order: a seeded shuffle of
    every start per pass; a new pass when a full batch no longer fits."""

    def __init__(self, torch, ids, context, batch, seed):
        self.torch, self.ids, self.batch = torch, ids, batch
        self.count = len(ids) - context                    # starts 0 .. count - 1
        self.offsets = torch.arange(context + 1)
        self.generator = torch.Generator().manual_seed(seed * 7919)
        self.order, self.position = None, 0

    def next(self):
        """(rows, context + 1) long: the next batch of windows."""
        if self.order is None or self.position + self.batch > self.count:
            self.order = self.torch.randperm(self.count, generator=self.generator)
            self.position = 0
        rows = min(self.batch, self.count - self.position)
        starts = self.order[self.position:self.position + rows]
        self.position += rows
        return self.ids[starts[:, None] + self.offsets]


def make_step(torch, model):
    """step(batch (B, T + 1), lr) -> the batch's loss: one update of model,
    as attend's trainer makes it (zero, loss, backward, clip 1, Adam)."""
    params = list(model.parameters())
    opt = torch.optim.Adam(params, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0, foreach=True)

    def step(batch, lr):
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss = model.loss(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    return step


def train(torch, model, windows, args):
    """Steps until --steps or --minutes runs out; returns the run's figures."""
    step = make_step(torch, model)
    budget = args.minutes * 60.0 if args.minutes > 0 else math.inf
    seconds, steps, tokens, loss_avg = 0.0, 0, 0, None
    next_progress = args.progress_every
    model.train()
    while steps < args.steps and seconds < budget:
        t0 = time.perf_counter()
        batch = windows.next()
        lr = schedule(args, steps + 1)
        value = step(batch, lr)
        seconds += time.perf_counter() - t0
        if not math.isfinite(value):
            die(f"the loss at step {steps + 1} is {value}")
        steps += 1
        tokens += (batch.shape[1] - 1) * batch.shape[0]
        loss_avg = value if loss_avg is None else 0.98 * loss_avg + 0.02 * value
        if seconds >= next_progress:
            next_progress = seconds + args.progress_every
            log(f"{seconds:7.1f} s  step {steps}  loss {loss_avg:.4f}  lr {lr:.2e}  "
                f"{tokens / seconds:.0f} tokens/s")
    return {"steps": steps, "tokens": tokens, "train_seconds": seconds, "loss": loss_avg}


def time_attention(torch, nn, F, args, vocab_size, windows, rounds):
    """The two attention variants' training steps, timed alternately on the
    same batches (after 3 untimed each): {variant: {median_ms, min_ms}}."""
    steps = {kind: make_step(torch, build_model(torch, nn, F, args, vocab_size, kind))
             for kind in ("manual", "mha")}
    times = {kind: [] for kind in steps}
    for r in range(3 + rounds):
        batch = windows.next()
        for kind, step in steps.items():
            t0 = time.perf_counter()
            step(batch, args.lr)
            if r >= 3:
                times[kind].append(1000 * (time.perf_counter() - t0))
    return {kind: {"median_ms": round(sorted(t)[len(t) // 2], 2), "min_ms": round(min(t), 2)}
            for kind, t in times.items()}


# ------------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=BOOK, help="a UTF-8 text file, or moby-dick (default)")
    ap.add_argument("--minutes", type=float, default=0.0,
                    help="training budget in wall-clock minutes, evaluation excluded (0: none)")
    ap.add_argument("--steps", type=int, default=2000,
                    help="the schedule's total steps and a cap on them (0: evaluate only)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attention", choices=["manual", "mha"], default="manual",
                    help="causal attention written out (faster here) or nn.MultiheadAttention")
    ap.add_argument("--eval-batch", type=int, default=64, help="windows per evaluation batch")
    ap.add_argument("--eval-chars", type=int, default=0,
                    help="evaluate the first N validation characters only (0: all)")
    ap.add_argument("--load-attend", metavar="MODEL.safetensors",
                    help="start from an attend model's weights (same configuration)")
    ap.add_argument("--progress-every", type=float, default=30.0, help="seconds between logs")
    ap.add_argument("--label", default="pytorch", help="the JSON line's impl field")
    ap.add_argument("--time-attention", type=int, default=0, metavar="ROUNDS",
                    help="only time a training step of each attention variant, alternately, "
                         "ROUNDS times, and print the JSON of it")
    args = ap.parse_args()
    positive = {"--threads": args.threads, "--layers": args.layers, "--heads": args.heads,
                "--width": args.width, "--context": args.context, "--batch": args.batch,
                "--eval-batch": args.eval_batch}
    for flag, value in positive.items():
        if value < 1:
            die(f"{flag} must be at least 1, not {value}")
    if not (args.minutes >= 0 and math.isfinite(args.minutes)):
        die(f"--minutes must be a finite number >= 0, not {args.minutes}")
    if not 0 <= args.dropout < 0.9:
        die(f"--dropout must be in [0, 0.9), not {args.dropout}")
    if not (args.lr > 0 and args.steps >= 0 and args.warmup >= 0 and args.eval_chars >= 0
            and args.time_attention >= 0):
        die("--lr must be > 0; --steps, --warmup, --eval-chars and --time-attention >= 0")
    return args


def main():
    args = parse_args()
    path = book_path(args.data)
    train_text, valid_text = read_split(path)

    import numpy as np
    import torch  # after the input checks: a bad file fails fast
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    code_points = make_vocab(np, train_text)
    train_ids, _ = encode(np, train_text, code_points)
    valid_ids, unknown = encode(np, valid_text, code_points)
    if len(train_ids) < args.context + 1:
        die(f"the training text has {len(train_ids)} characters, fewer than the context + 1 "
            f"({args.context + 1})")
    vocab_size = len(SPECIALS) + len(code_points)
    train_t, valid_t = torch.from_numpy(train_ids), torch.from_numpy(valid_ids)
    windows = Windows(torch, train_t, args.context, args.batch, args.seed)
    if args.time_attention:
        timed = time_attention(torch, nn, F, args, vocab_size, windows, args.time_attention)
        print(json.dumps({"threads": args.threads, "rounds": args.time_attention,
                          "faster": min(timed, key=lambda k: timed[k]["median_ms"]), **timed}))
        return
    model = build_model(torch, nn, F, args, vocab_size, args.attention)
    params = sum(p.numel() for p in model.parameters())
    if params != count_formula(args, vocab_size):
        die(f"internal: {params} parameters, the formula says {count_formula(args, vocab_size)}")
    if args.load_attend:
        load_attend(torch, model, args.load_attend)
    log(f"pytorch {torch.__version__}, {params} parameters ({args.layers} layers x "
        f"{args.heads} heads x {args.width} wide, context {args.context}, {args.attention} "
        f"attention); {path}: {len(train_ids)} characters train, {len(valid_ids)} validate "
        f"({unknown} unknown), vocabulary {vocab_size}; batch {args.batch}, "
        f"{args.threads} thread(s), {args.minutes:g} min, {args.steps} steps at most")

    run = train(torch, model, windows, args)
    nats, predicted = evaluate(torch, F, model, valid_t, args.context, args.eval_batch,
                               args.eval_chars)
    seconds = run["train_seconds"]
    log(f"trained {run['steps']} steps in {seconds:.1f} s; validation {nats:.4f} nats/char "
        f"({nats / math.log(2):.4f} bits/char, {predicted} characters predicted)")
    result = {
        "impl": args.label, "threads": args.threads, "minutes": args.minutes,
        "steps": run["steps"], "batch": args.batch, "context": args.context,
        "tokens": run["tokens"], "train_seconds": round(seconds, 6),
        "tokens_per_s": round(run["tokens"] / seconds, 1) if seconds > 0 else 0.0,
        "valid_nats": nats, "valid_bpc": nats / math.log(2), "valid_predicted": predicted,
        "params": params, "vocab": vocab_size, "loss": run["loss"],
        "attention": args.attention,
        "config": {k: getattr(args, k) for k in
                   ("layers", "heads", "width", "context", "dropout", "batch", "lr", "warmup",
                    "steps", "seed", "eval_chars")},
        "data": path, "train_chars": len(train_ids), "valid_chars": len(valid_ids),
        **peer_info.environment(),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
