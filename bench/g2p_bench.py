#!/usr/bin/env python3
"""g2p_bench.py - attend's grapheme-to-phoneme model in PyTorch, trained for a
wall-clock budget, for the side-by-side comparison of issue 11.

The idea: give PyTorch the same model, the same data, the same optimiser and
the same number of minutes as attend, and see which reaches the lower dev
word error rate. Everything that decides what is learned mirrors attend's
seq2seq model (include/attend/models.h, src/models/, src/layers/,
src/attention/, src/train/), so the two differ only in how fast they run:

    word characters (B, Tx)  -> Embedding(Vs, E)                 source_embed
      -> BiLSTM, N per direction, L layers (dropout P between   encoder
         layers), lengths packed: padding never reaches a state
      -> annotations h (B, Tx, 2N)
    s_0 = tanh(W_init [h_fwd at the last step; h_bwd at step 0] + b)   top layer
    h~_0 = 0 (and c_0 = 0 for the LSTM cell)
    for t < Ty, teacher-forced (input feeding):
      x_t  = [embed(y_{t-1}) (Vt, E); h~_{t-1}]                  target_embed
      s_t  = GRUCell or LSTMCell (E + S -> S)(x_t, s_{t-1})      decoder.cell
      additive: e_tj = v_a . tanh(W_a s_t + U_a h_j + b_a)      attention.*
      general:  e_tj = s_t . (W_a h_j)
      alpha_t = softmax over the word's characters (padding masked)
      c_t  = sum_j alpha_tj h_j
      h~_t = tanh(W_c [c_t; s_t])           (no bias)            decoder.W_c
      logits_t = W_s h~_t + b_s                                  decoder.W_s
    loss = mean cross-entropy over the non-PAD targets (END included)

Vocabularies as attend's at_vocab: ids 0 PAD, 1 UNK, 2 START, 3 END, then
the sorted characters (source) and the sorted phones (target) of the
training file. Initialisation as attend's: embeddings N(0, 1); every
recurrent W_ih and every dense weight Glorot uniform; each gate block of
W_hh orthogonal; biases 0 except the LSTM's forget-gate half of b_ih = 1;
additive v_a uniform in +-1/sqrt(A). Parameters carry attend's names, so
`--load-attend` can load one of its checkpoints (the GRU/LSTM cell's
"_l0" suffix aside).

Training as attend's trainer: each pass, shuffle the pairs, sort every
chunk of `--pool` batches by word length (stably), cut into batches and
shuffle the full batches; a new pass begins when a full batch no longer
fits. One step: zero the gradients, loss, backward, clip the global
gradient norm (torch.nn.utils.clip_grad_norm_, the formula attend copies),
Adam (PyTorch's formula, which attend's follows) at the schedule's learning
rate: linear warm-up over --warmup steps from lr/W at the first step, then
cosine (or linear, or none) down to --final-lr, over --steps steps if given,
otherwise over the rest of the time budget.

Data: --train and --dev are TSV files of `WORD<TAB>PH1 PH2 ...`; a word's
several pronunciations are separate lines. Every training line is one
training pair. Dev is scored per word against all its pronunciations:
  WER  a word is wrong unless the output equals one of its references;
  PER  edit distance to the closest reference (the first one on a tie),
       summed over the words, over the summed lengths of those references.
Decoding is greedy, in batches of --eval-batch words sorted by length, for
at most (the longest target of train and dev) + 2 steps, END included; an
output is read as `attend translate` prints it (up to the first END or PAD,
START dropped: the softmax covers the special ids too).

The training clock covers the training steps only (batching included);
evaluations (at the end, and every --eval-every seconds of training time
if asked) stop it. stderr gets the parameter count, a progress line every
--progress-every seconds and each evaluation; stdout gets ONE JSON line:
  {"impl": "pytorch", "threads", "minutes", "steps", "examples",
   "examples_per_s", "train_seconds", "dev_wer", "dev_per", "params", ...}
followed by the configuration, the final loss, the evaluations along the
way ("curve") and the environment. Tuning the peer (OpenBLAS core type,
OPENBLAS_NUM_THREADS, jemalloc) is the runner's job (bench/peer_env.sh);
this script calls torch.set_num_threads(--threads) and reports what it found.

    /usr/bin/python3 bench/g2p_bench.py --train train.tsv --dev dev.tsv \
        --minutes 10 --threads 1
"""
import argparse
import json
import math
import os
import random
import re
import sys
import time

import peer_info  # bench/, beside this script

PAD, UNK, START, END = 0, 1, 2, 3
SPECIALS = ["<pad>", "<unk>", "<start>", "<end>"]


def die(message):
    print(f"g2p_bench: {message}", file=sys.stderr)
    sys.exit(2)


# ------------------------------------------------------------------- data

def read_tsv(path):
    """[(word, [phones])] in file order; a clear error on a malformed line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except OSError as e:
        die(f"cannot read {path}: {e.strerror}")
    except UnicodeDecodeError as e:
        die(f"{path}: not UTF-8 ({e.reason} at byte {e.start})")
    pairs = []
    for number, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            die(f"{path}:{number}: expected WORD<TAB>PHONES, found {len(parts) - 1} tabs")
        word, phones = parts[0], parts[1].split()
        if not word or word != word.strip():
            die(f"{path}:{number}: the word is empty or has spaces around it")
        if not phones:
            die(f"{path}:{number}: no phones for {word!r}")
        pairs.append((word, phones))
    if not pairs:
        die(f"{path}: no pairs")
    return pairs


def group_words(pairs):
    """[(word, [references])], each word once, in order of first appearance."""
    refs = {}
    for word, phones in pairs:
        refs.setdefault(word, [])
        if phones not in refs[word]:
            refs[word].append(phones)
    return list(refs.items())


def make_vocab(units):
    """unit -> id: the specials, then the sorted units (as at_vocab)."""
    return {u: i + len(SPECIALS) for i, u in enumerate(sorted(set(units)))}


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def score(outputs, words):
    """(WER, PER) of outputs[i] (a list of phones) against words[i][1]."""
    wrong = errors = length = 0
    for out, (_, refs) in zip(outputs, words):
        wrong += out not in refs
        best = min(refs, key=lambda r: edit_distance(out, r))  # first on a tie
        errors += edit_distance(out, best)
        length += len(best)
    return wrong / len(words), errors / length


def bucket_order(lengths, batch, pool, rng):
    """attend's order_buckets: shuffle, sort chunks of `pool` batches by
    length (stable), shuffle the full batches as blocks."""
    n = len(lengths)
    order = list(range(n))
    rng.shuffle(order)
    chunk = batch * max(pool, 1)
    for start in range(0, n, chunk):
        order[start:start + chunk] = sorted(order[start:start + chunk], key=lambda i: lengths[i])
    blocks = [order[k * batch:(k + 1) * batch] for k in range(n // batch)]
    rng.shuffle(blocks)
    return [i for block in blocks for i in block] + order[len(blocks) * batch:]


# ------------------------------------------------------------------ model

def build_model(torch, nn, F, args, vs, vt):
    E, N, S, A = args.embed, args.encoder, args.decoder_size, args.attn_size
    K = 2 * N

    def glorot(w, fan_in, fan_out):
        a = math.sqrt(6.0 / (fan_in + fan_out))
        nn.init.uniform_(w, -a, a)

    def init_recurrent(module, gates, hidden, suffixes):
        for sfx in suffixes:
            w_ih, w_hh = getattr(module, "weight_ih" + sfx), getattr(module, "weight_hh" + sfx)
            glorot(w_ih, w_ih.shape[1], gates * hidden)
            for g in range(gates):
                nn.init.orthogonal_(w_hh.data[g * hidden:(g + 1) * hidden])
            getattr(module, "bias_ih" + sfx).data.zero_()
            getattr(module, "bias_hh" + sfx).data.zero_()
            if gates == 4:  # unit forget bias
                getattr(module, "bias_ih" + sfx).data[hidden:2 * hidden] = 1.0

    def dense(fan_in, fan_out, bias):
        layer = nn.Linear(fan_in, fan_out, bias=bias)
        glorot(layer.weight, fan_in, fan_out)
        if bias:
            layer.bias.data.zero_()
        return layer

    class Attention(nn.Module):
        """Parameters under attend's names: attention.W_a, U_a, b_a, v_a."""

        def __init__(self):
            super().__init__()
            self.additive = args.attention == "additive"
            if self.additive:
                self.W_a = nn.Parameter(torch.empty(A, S))
                self.U_a = nn.Parameter(torch.empty(A, K))
                self.b_a = nn.Parameter(torch.zeros(A))
                self.v_a = nn.Parameter(torch.empty(A))
                glorot(self.W_a, S, A)
                glorot(self.U_a, K, A)
                nn.init.uniform_(self.v_a, -1.0 / math.sqrt(A), 1.0 / math.sqrt(A))
            else:  # Luong general: score = s . (W_a h_j)
                self.W_a = nn.Parameter(torch.empty(S, K))
                glorot(self.W_a, K, S)

        def keys(self, h):  # once per sequence: (B, Tx, A) or (B, Tx, S)
            if self.additive:
                return F.linear(h, self.U_a, self.b_a)
            return F.linear(h, self.W_a)

        def scores(self, keys, s):  # (B, Tx)
            if self.additive:
                hidden = torch.tanh(keys + F.linear(s, self.W_a).unsqueeze(1))
                return torch.matmul(hidden, self.v_a)
            return torch.bmm(keys, s.unsqueeze(2)).squeeze(2)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.init = dense(K, S, True)
            if args.cell == "lstm":
                self.cell = nn.LSTMCell(E + S, S)
                init_recurrent(self.cell, 4, S, [""])
            else:
                self.cell = nn.GRUCell(E + S, S)
                init_recurrent(self.cell, 3, S, [""])
            self.W_c = dense(K + S, S, False)
            self.W_s = dense(S, vt, True)

    class G2P(nn.Module):
        def __init__(self):
            super().__init__()
            self.source_embed = nn.Embedding(vs, E)
            self.encoder = nn.LSTM(E, N, num_layers=args.encoder_layers, bidirectional=True,
                                   batch_first=True, dropout=args.dropout)
            init_recurrent(self.encoder, 4, N,
                           [f"_l{k}{r}" for k in range(args.encoder_layers)
                            for r in ("", "_reverse")])
            self.target_embed = nn.Embedding(vt, E)
            self.attention = Attention()
            self.decoder = Decoder()
            self.lstm_cell = args.cell == "lstm"

        def encode(self, src, lengths):
            """src (B, Tx) padded, lengths (B) -> the decoder's start."""
            B, Tx = src.shape
            packed = nn.utils.rnn.pack_padded_sequence(self.source_embed(src), lengths,
                                                       batch_first=True, enforce_sorted=False)
            out, (h_n, _) = self.encoder(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=Tx)
            s = torch.tanh(self.decoder.init(torch.cat((h_n[-2], h_n[-1]), 1)))  # top layer
            c = torch.zeros_like(s) if self.lstm_cell else None
            mask = torch.arange(Tx).unsqueeze(0) < lengths.unsqueeze(1)  # (B, Tx) True = keep
            return h, self.attention.keys(h), mask, s, c, torch.zeros_like(s)

        def step(self, h, keys, mask, s, c, h_tilde, embedded):
            x = torch.cat((embedded, h_tilde), 1)  # (B, E + S)
            if self.lstm_cell:
                s, c = self.decoder.cell(x, (s, c))
            else:
                s = self.decoder.cell(x, s)
            e = self.attention.scores(keys, s).masked_fill(~mask, float("-inf"))
            alpha = torch.softmax(e, 1)
            context = torch.bmm(alpha.unsqueeze(1), h).squeeze(1)  # (B, 2N)
            h_tilde = torch.tanh(self.decoder.W_c(torch.cat((context, s), 1)))
            return s, c, h_tilde

        def forward(self, src, lengths, tgt_in):  # tgt_in (B, Ty) -> logits (B, Ty, Vt)
            h, keys, mask, s, c, h_tilde = self.encode(src, lengths)
            embedded = self.target_embed(tgt_in)  # (B, Ty, E), once
            states = []
            for t in range(tgt_in.shape[1]):
                s, c, h_tilde = self.step(h, keys, mask, s, c, h_tilde, embedded[:, t])
                states.append(h_tilde)
            return self.decoder.W_s(torch.stack(states, 1))  # W_s on all steps at once

        def greedy(self, src, lengths, max_len):
            """ids (B, <= max_len), END included; the first maximum wins ties."""
            h, keys, mask, s, c, h_tilde = self.encode(src, lengths)
            prev = torch.full((src.shape[0],), START, dtype=torch.long)
            done = torch.zeros(src.shape[0], dtype=torch.bool)
            out = []
            for _ in range(max_len):
                s, c, h_tilde = self.step(h, keys, mask, s, c, h_tilde, self.target_embed(prev))
                prev = self.decoder.W_s(h_tilde).argmax(1)
                out.append(prev)
                done |= prev == END
                if bool(done.all()):
                    break
            return torch.stack(out, 1)

    return G2P()


def count_formula(args, vs, vt):
    """The parameter count from attend's layer shapes (checked against the model)."""
    E, N, S, A, L = args.embed, args.encoder, args.decoder_size, args.attn_size, args.encoder_layers
    K = 2 * N
    encoder = sum(2 * (4 * N * (E if k == 0 else K) + 4 * N * N + 8 * N) for k in range(L))
    gates = 4 if args.cell == "lstm" else 3
    cell = gates * S * (E + S) + gates * S * S + 2 * gates * S
    attention = A * S + A * K + 2 * A if args.attention == "additive" else S * K
    return (vs * E + encoder + vt * E + (K * S + S) + cell + attention + S * (K + S)
            + (vt * S + vt))


def load_attend(torch, model, path):
    """Weights from an attend checkpoint (safetensors: 8-byte header length,
    JSON header, float32 data). Every name and shape must match."""
    import numpy as np
    try:
        with open(path, "rb") as f:
            blob = f.read()
        n = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8:8 + n])
    except (OSError, ValueError) as e:
        die(f"cannot read the attend checkpoint {path}: {e}")
    header.pop("__metadata__", None)
    state = {}
    for name, entry in header.items():
        if entry.get("dtype") != "F32":
            die(f"{path}: {name} is {entry.get('dtype')}, expected F32")
        begin, end = entry["data_offsets"]
        values = np.frombuffer(blob[8 + n + begin:8 + n + end], dtype="<f4")
        # attend names the decoder's cell as a one-layer RNN (weight_ih_l0)
        name = re.sub(r"^(decoder\.cell\.\w+)_l0$", r"\1", name)
        state[name] = torch.from_numpy(values.reshape(entry["shape"]).copy())
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        die(f"{path} does not fit this configuration: {e}")


# --------------------------------------------------------------- training

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, help="training TSV (WORD<TAB>PHONES)")
    ap.add_argument("--dev", required=True, help="development TSV, scored at the end")
    ap.add_argument("--minutes", type=float, required=True,
                    help="training budget in wall-clock minutes (evaluation excluded)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--attention", choices=["additive", "general"], default="additive")
    ap.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    ap.add_argument("--embed", type=int, default=32, help="E (attend's default 32)")
    ap.add_argument("--encoder", type=int, default=64, help="N per direction (64)")
    ap.add_argument("--decoder-size", type=int, default=128, help="S (128)")
    ap.add_argument("--attn-size", type=int, default=64, help="A, additive only (64)")
    ap.add_argument("--encoder-layers", type=int, default=1, help="stacked BiLSTM layers")
    ap.add_argument("--dropout", type=float, default=0.0, help="between encoder layers")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--pool", type=int, default=50, help="batches per length bucket chunk")
    ap.add_argument("--lr", type=float, default=0.004, help="peak learning rate")
    ap.add_argument("--final-lr", type=float, default=None, help="default 1%% of --lr")
    ap.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    ap.add_argument("--decay", choices=["cosine", "linear", "none"], default="cosine")
    ap.add_argument("--steps", type=int, default=0,
                    help="the schedule's total steps, and a cap on them (0: decay over "
                         "the time budget, no cap)")
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--clip", type=float, default=1.0, help="global gradient norm (0 = off)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--eval-every", type=float, default=0,
                    help="also evaluate dev every this many seconds of training (0: end only)")
    ap.add_argument("--eval-batch", type=int, default=256)
    ap.add_argument("--progress-every", type=float, default=30)
    ap.add_argument("--load-attend", metavar="MODEL.safetensors",
                    help="start from an attend checkpoint's weights (same sizes)")
    ap.add_argument("--outputs", metavar="FILE",
                    help="write WORD<TAB>OUTPUT for every dev word after the final evaluation")
    args = ap.parse_args()
    positive = {"--threads": args.threads, "--embed": args.embed, "--encoder": args.encoder,
                "--decoder-size": args.decoder_size, "--attn-size": args.attn_size,
                "--encoder-layers": args.encoder_layers, "--batch": args.batch,
                "--eval-batch": args.eval_batch}
    for flag, value in positive.items():
        if value < 1:
            die(f"{flag} must be at least 1, not {value}")
    if not (args.minutes >= 0 and math.isfinite(args.minutes)):
        die(f"--minutes must be a finite number >= 0, not {args.minutes}")
    if not 0 <= args.dropout < 1:
        die(f"--dropout must be in [0, 1), not {args.dropout}")
    if args.dropout > 0 and args.encoder_layers == 1:
        die("--dropout acts between encoder layers: it needs --encoder-layers 2 or more")
    if not (args.lr > 0 and 0 <= args.beta1 < 1 and 0 <= args.beta2 < 1 and args.eps >= 0
            and args.clip >= 0 and args.warmup >= 0 and args.steps >= 0 and args.pool >= 0):
        die("--lr must be > 0, betas in [0, 1), --eps, --clip, --warmup, --steps, --pool >= 0")
    if args.final_lr is None:
        args.final_lr = args.lr * 0.01
    return args


def schedule(args, step, progress):
    """attend's at_schedule at `step` (1 for the first update, as its trainer
    asks); progress in [0, 1] of the decay phase when --steps is not given."""
    if step < args.warmup:
        return args.lr * step / args.warmup
    if args.decay == "none":
        return args.lr
    if args.steps:
        span = args.steps - args.warmup
        progress = 1.0 if span <= 0 else min(max((step - args.warmup) / span, 0.0), 1.0)
    if args.decay == "linear":
        return args.final_lr + (args.lr - args.final_lr) * (1.0 - progress)
    return args.final_lr + (args.lr - args.final_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Data:
    """The pairs as ids, once: the training pairs padded to the longest in one
    tensor each, so a batch is an index and a slice; the dev words by length."""

    def __init__(self, torch, train_pairs, dev_words):
        self.torch, self.dev_words = torch, dev_words
        self.src_vocab = make_vocab(c for w, _ in train_pairs for c in w)
        tgt_vocab = make_vocab(p for _, ph in train_pairs for p in ph)
        self.tgt_names = SPECIALS + sorted(tgt_vocab, key=tgt_vocab.get)
        self.vs, self.vt = len(self.src_vocab) + len(SPECIALS), len(self.tgt_names)
        longest = max(len(ph) for _, ph in train_pairs)
        # decoding steps, END included: as attend's max_target_len
        self.max_len = max([longest] + [len(r) for _, rs in dev_words for r in rs]) + 2
        self.lengths = [len(w) for w, _ in train_pairs]
        n = self.count = len(train_pairs)
        self.src = torch.zeros(n, max(self.lengths), dtype=torch.long)
        self.tgt_in = torch.zeros(n, longest + 1, dtype=torch.long)
        self.tgt_out = torch.zeros(n, longest + 1, dtype=torch.long)
        self.src_len, self.tgt_len = torch.tensor(self.lengths), torch.zeros(n, dtype=torch.long)
        for i, (word, phones) in enumerate(train_pairs):
            t = [tgt_vocab[p] for p in phones]
            self.src[i, :len(word)] = torch.tensor([self.src_vocab[c] for c in word])
            self.tgt_in[i, :len(t) + 1] = torch.tensor([START] + t)
            self.tgt_out[i, :len(t) + 1] = torch.tensor(t + [END])
            self.tgt_len[i] = len(t) + 1

    def batch(self, indices):
        """src (B, Tx), lengths (B), tgt_in and tgt_out (B, Ty), Ty = longest + END."""
        rows = self.torch.tensor(indices)
        src_len, tgt_len = self.src_len[rows], self.tgt_len[rows]
        Tx, Ty = int(src_len.max()), int(tgt_len.max())
        return self.src[rows, :Tx], src_len, self.tgt_in[rows, :Ty], self.tgt_out[rows, :Ty]

    def dev_batches(self, size):
        """(word indices, src (B, Tx), lengths) in batches of words of similar length."""
        torch = self.torch
        words = sorted(range(len(self.dev_words)), key=lambda k: len(self.dev_words[k][0]))
        for start in range(0, len(words), size):
            chunk = words[start:start + size]
            ids = [[self.src_vocab.get(c, UNK) for c in self.dev_words[k][0]] for k in chunk]
            src = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)
            for row, s in enumerate(ids):
                src[row, :len(s)] = torch.tensor(s)
            yield chunk, src, torch.tensor([len(s) for s in ids])

    def phones(self, ids):
        """Output ids as phones, as `attend translate` prints them: up to the
        first END or PAD, START left out, UNK as U+FFFD (which no phone is)."""
        out = []
        for t in ids:
            if t in (END, PAD):
                break
            if t != START:
                out.append("\ufffd" if t == UNK else self.tgt_names[t])
        return out


def evaluate(torch, model, data, args):
    """Greedy outputs of every dev word, and their (WER, PER)."""
    model.eval()
    outputs = [None] * len(data.dev_words)
    with torch.no_grad():
        for chunk, src, lengths in data.dev_batches(args.eval_batch):
            decoded = model.greedy(src, lengths, data.max_len).tolist()
            for row, k in enumerate(chunk):
                outputs[k] = data.phones(decoded[row])
    model.train()
    return outputs, score(outputs, data.dev_words)


class Clock:
    """The training clock, the learning rate it implies, and the log lines."""

    def __init__(self, args):
        self.args, self.seconds, self.budget = args, 0.0, args.minutes * 60.0
        self.warm_end = None  # training seconds when the warm-up ended
        self.next_progress = args.progress_every
        self.next_eval = args.eval_every or math.inf

    def running(self, steps):
        return self.seconds < self.budget and (not self.args.steps or steps < self.args.steps)

    def lr(self, step):
        """The rate for update `step` (1, 2, ...); without --steps the decay
        runs over the budget left when the warm-up ended."""
        if step >= self.args.warmup and self.warm_end is None:
            self.warm_end = self.seconds
        progress = 0.0
        if self.warm_end is not None and self.budget > self.warm_end:
            progress = min((self.seconds - self.warm_end) / (self.budget - self.warm_end), 1.0)
        return schedule(self.args, step, progress)

    def progress_due(self):
        if self.seconds < self.next_progress:
            return False
        self.next_progress = self.seconds + self.args.progress_every
        return True

    def eval_due(self):
        if self.seconds < self.next_eval or self.seconds >= self.budget:
            return False
        self.next_eval = self.seconds + self.args.eval_every
        return True


def train(torch, F, model, data, args):
    """Steps until the budget (or --steps) is spent; returns the run's figures."""
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps,
                           foreach=True)
    rng = random.Random(args.seed * 7919)
    clock = Clock(args)
    order, position, steps, examples, loss_avg, curve = [], 0, 0, 0, None, []
    model.train()
    while clock.running(steps):
        t0 = time.perf_counter()
        if position == 0 or position + args.batch > data.count:  # a new pass
            order, position = bucket_order(data.lengths, args.batch, args.pool, rng), 0
        indices = order[position:position + args.batch]
        position += len(indices)
        src, src_len, tgt_in, tgt_out = data.batch(indices)
        lr = clock.lr(steps + 1)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        logits = model(src, src_len, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, data.vt), tgt_out.reshape(-1),
                               ignore_index=PAD)
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, args.clip)
        opt.step()
        value = loss.item()
        clock.seconds += time.perf_counter() - t0
        if not math.isfinite(value):
            die(f"the loss at step {steps + 1} is {value}")
        steps += 1
        examples += len(indices)
        loss_avg = value if loss_avg is None else 0.98 * loss_avg + 0.02 * value
        if clock.progress_due():
            log(f"{clock.seconds:7.1f} s  step {steps}  loss {loss_avg:.4f}  lr {lr:.2e}  "
                f"{examples / clock.seconds:.0f} ex/s")
        if clock.eval_due():
            _, (wer, per) = evaluate(torch, model, data, args)
            curve.append(point(clock.seconds, steps, wer, per))
    return {"steps": steps, "examples": examples, "train_seconds": clock.seconds,
            "loss": loss_avg, "curve": curve}


def point(seconds, steps, wer, per):
    log(f"{seconds:7.1f} s  step {steps}  dev WER {100 * wer:.2f}%  PER {100 * per:.2f}%")
    return {"train_seconds": round(seconds, 2), "steps": steps, "dev_wer": wer, "dev_per": per}


def log(text):
    print(f"g2p_bench: {text}", file=sys.stderr, flush=True)


def write_outputs(path, dev_words, outputs):
    try:
        with open(path, "w", encoding="utf-8") as f:
            for (word, _), out in zip(dev_words, outputs):
                f.write(f"{word}\t{' '.join(out)}\n")
    except OSError as e:
        die(f"cannot write {path}: {e.strerror}")


def main():
    args = parse_args()
    train_pairs = read_tsv(args.train)
    dev_words = group_words(read_tsv(args.dev))

    import torch  # after the input checks: a bad file fails fast
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = Data(torch, train_pairs, dev_words)
    model = build_model(torch, nn, F, args, data.vs, data.vt)
    n_params = sum(p.numel() for p in model.parameters())
    if n_params != count_formula(args, data.vs, data.vt):
        die(f"internal: {n_params} parameters, the formula says "
            f"{count_formula(args, data.vs, data.vt)}")
    if args.load_attend:
        load_attend(torch, model, args.load_attend)
    log(f"pytorch {torch.__version__}, {n_params} parameters ({args.attention} attention, "
        f"{args.cell} cell, E {args.embed}, N {args.encoder} x {args.encoder_layers} layers, "
        f"S {args.decoder_size}, A {args.attn_size}); {data.count} training pairs, "
        f"{len(dev_words)} dev words; vocab {data.vs} in, {data.vt} out; "
        f"{args.threads} thread(s), {args.minutes:g} min")

    run = train(torch, F, model, data, args)
    outputs, (wer, per) = evaluate(torch, model, data, args)
    run["curve"].append(point(run["train_seconds"], run["steps"], wer, per))
    if args.outputs:
        write_outputs(args.outputs, dev_words, outputs)
    seconds = run["train_seconds"]
    result = {
        "impl": "pytorch", "threads": args.threads, "minutes": args.minutes,
        "steps": run["steps"], "examples": run["examples"],
        "examples_per_s": round(run["examples"] / seconds, 2) if seconds > 0 else 0.0,
        "train_seconds": round(seconds, 3), "dev_wer": wer, "dev_per": per,
        "params": n_params,
        "loss": run["loss"], "dev_words": len(dev_words), "train_pairs": data.count,
        "config": {k: getattr(args, k) for k in
                   ("attention", "cell", "embed", "encoder", "decoder_size", "attn_size",
                    "encoder_layers", "dropout", "batch", "pool", "lr", "final_lr", "warmup",
                    "decay", "steps", "beta1", "beta2", "eps", "clip", "seed")},
        "curve": run["curve"],
        **peer_info.environment(),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
