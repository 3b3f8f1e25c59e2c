"""Train an encoder-decoder from Python: attend.train(out, ...).

The same recipe as `attend train` (cli/train.c), built from the same
library calls, so that a model trained here equals the one the CLI trains
with the same options, weight for weight (tests/python/test_models.py
checks it). The training options and their defaults are the library's
at_seq2seq_recipe, which the CLI uses too:

  data       at_dates_generate (the generated dates: train_size training
             and valid_size validation pairs from seed), a TSV file
             (at_pairs_read_tsv; 5% held out for validation unless valid
             names a file), or a list of (source, target) pairs;
  model      at_seq2seq_create_for_pairs (vocabularies from the training
             pairs; the decoder and attention named here);
  training   at_seq2seq_task_create, then at_train with the trainer
             options at_seq2seq_recipe_trainer_options makes: Adam warmed
             up, then a cosine decay, gradient clipping, an evaluation
             every eval_every steps; OUT/model.safetensors (the best by
             exact match), OUT/last.safetensors and OUT/metrics.jsonl;
             with replicas = R > 1, at_train_replicas over R copies of
             the model (at_seq2seq_copy, as `attend train --replicas R`
             makes them), each on threads / R threads.

Progress: the trainer calls back after every step. `progress` is a
function given an attend.Progress at each evaluation and every
`progress_every` steps; the default prints one line each time. An
exception raised in it (KeyboardInterrupt too: Ctrl-C or a notebook's
stop button reaches Python during the callback) stops the run at the next
step boundary, after the trainer saves OUT/last.safetensors, and is then
raised again from train(). The C library itself prints nothing.

The GIL is released while the library trains and taken back for each
callback, so other Python threads run meanwhile.
"""
import ctypes
import os
import sys

from ._lib import _c_char_p, _c_int, _ctx_p, _model_p, declare, lib, new_context, raise_for, sibling
from .models import Translator, _text_arg

# ------------------------------------------------------------------ structs
# Each mirrors attend/core.h, models.h or text.h field for field.


class Pairs(ctypes.Structure):  # at_pairs, attend/text.h
    _fields_ = [("count", ctypes.c_size_t), ("capacity", ctypes.c_size_t),
                ("source", ctypes.POINTER(ctypes.c_char_p)),
                ("target", ctypes.POINTER(ctypes.c_char_p))]


class Seq2seqConfig(ctypes.Structure):  # at_seq2seq_config, attend/models.h
    _fields_ = [("decoder", _c_int), ("attention", _c_int), ("cell", _c_int),
                ("seed_teacher_forcing", _c_int), ("seed_output_from_previous_state", _c_int),
                ("embed_size", _c_int), ("encoder_size", _c_int), ("encoder_layers", _c_int),
                ("dropout", ctypes.c_float), ("output_dropout", ctypes.c_float),
                ("decoder_size", _c_int), ("attn_size", _c_int),
                ("heads", _c_int), ("window", _c_int), ("max_source_len", _c_int),
                ("max_target_len", _c_int), ("seed", ctypes.c_uint64)]


class OptimConfig(ctypes.Structure):  # at_optim_config, attend/core.h
    _fields_ = [("kind", _c_int), ("lr", ctypes.c_float), ("momentum", ctypes.c_float),
                ("nesterov", _c_int), ("beta1", ctypes.c_float), ("beta2", ctypes.c_float),
                ("eps", ctypes.c_float), ("weight_decay", ctypes.c_float)]


class Schedule(ctypes.Structure):  # at_schedule
    _fields_ = [("base_lr", ctypes.c_float), ("final_lr", ctypes.c_float),
                ("warmup_steps", ctypes.c_long), ("total_steps", ctypes.c_long),
                ("decay", _c_int)]


AT_METRICS_MAX, AT_METRIC_NAME_MAX = 8, 32


class Metrics(ctypes.Structure):  # at_metrics
    _fields_ = [("count", _c_int), ("name", (ctypes.c_char * AT_METRIC_NAME_MAX) * AT_METRICS_MAX),
                ("value", ctypes.c_double * AT_METRICS_MAX)]

    def as_dict(self):
        return {self.name[i].value.decode("utf-8"): self.value[i] for i in range(self.count)}


class TrainProgress(ctypes.Structure):  # at_train_progress
    _fields_ = [("step", ctypes.c_long), ("total_steps", ctypes.c_long),
                ("loss", ctypes.c_double), ("lr", ctypes.c_double),
                ("examples_per_second", ctypes.c_double), ("seconds", ctypes.c_double),
                ("valid", ctypes.POINTER(Metrics)), ("evaluated", _c_int)]


PROGRESS_FUNCTION = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(TrainProgress))


class TrainerOptions(ctypes.Structure):  # at_trainer_options
    _fields_ = [("out_dir", _c_char_p), ("steps", ctypes.c_long), ("epochs", ctypes.c_long),
                ("batch", _c_int), ("bucket_pool", _c_int), ("seed", ctypes.c_uint64),
                ("optim", OptimConfig), ("schedule", Schedule), ("clip", ctypes.c_float),
                ("eval_every", ctypes.c_long), ("log_every", ctypes.c_long),
                ("save_every", ctypes.c_long), ("best_metric", _c_char_p),
                ("lower_is_better", _c_int), ("resume", _c_int), ("data_id", _c_char_p),
                ("extra", ctypes.c_void_p), ("max_seconds", ctypes.c_double),
                ("stop", ctypes.POINTER(ctypes.c_int)),  # volatile sig_atomic_t * (an int)
                ("progress", PROGRESS_FUNCTION), ("progress_user", ctypes.c_void_p),
                ("reducer", ctypes.c_void_p)]  # const at_reducer *: NULL, one process


class TrainResult(ctypes.Structure):  # at_train_result
    _fields_ = [("steps", ctypes.c_long), ("stopped", _c_int), ("out_of_time", _c_int),
                ("train_seconds", ctypes.c_double), ("evaluations", _c_int),
                ("best", ctypes.c_double), ("last", Metrics), ("seconds", ctypes.c_double)]


class Recipe(ctypes.Structure):  # at_seq2seq_recipe, attend/models.h
    _fields_ = [("steps", ctypes.c_long), ("epochs", ctypes.c_long), ("batch", ctypes.c_long),
                ("warmup", ctypes.c_long), ("eval_every", ctypes.c_long),
                ("save_every", ctypes.c_long), ("seed", ctypes.c_long),
                ("lr", ctypes.c_double), ("final_lr", ctypes.c_double),
                ("clip", ctypes.c_double), ("minutes", ctypes.c_double)]


# The recipe's whole-number fields and their least values (the others are
# finite numbers >= 0).
_RECIPE_WHOLE = {"steps": 0, "epochs": 0, "batch": 1, "warmup": 0, "eval_every": 1,
                 "save_every": 0, "seed": 0}


class CtxOptions(ctypes.Structure):  # at_ctx_options
    _fields_ = [("arena_block_bytes", ctypes.c_size_t), ("num_threads", _c_int),
                ("seed", ctypes.c_uint64)]


_pairs_p = ctypes.POINTER(Pairs)
declare({
    # at_ctx_create again, now with its options typed (None is still NULL)
    "at_ctx_create": (_c_int, [ctypes.POINTER(_ctx_p), ctypes.POINTER(CtxOptions)]),
    "at_pairs_add": (_c_int, [_ctx_p, _pairs_p, _c_char_p, _c_char_p]),
    "at_pairs_clear": (None, [_pairs_p]),
    "at_pairs_read_tsv": (_c_int, [_ctx_p, _c_char_p, _c_int, _pairs_p]),
    "at_pairs_hold_out": (_c_int, [_ctx_p, _pairs_p, _pairs_p, _c_int]),
    "at_seq2seq_config_default": (None, [ctypes.POINTER(Seq2seqConfig)]),
    "at_attention_kind_parse": (_c_int, [_ctx_p, _c_char_p, ctypes.POINTER(_c_int)]),
    "at_vocab_kind_parse": (_c_int, [_ctx_p, _c_char_p, ctypes.POINTER(_c_int)]),
    "at_seq2seq_create_for_pairs": (_c_int, [_ctx_p, ctypes.POINTER(_model_p),
                                             ctypes.POINTER(Seq2seqConfig), _pairs_p, _pairs_p,
                                             _c_int, _c_int]),
    "at_seq2seq_copy": (_c_int, [_ctx_p, ctypes.POINTER(_model_p), _model_p]),
    "at_seq2seq_task_create": (_c_int, [_ctx_p, ctypes.POINTER(ctypes.c_void_p), _model_p,
                                        _pairs_p, _pairs_p, _c_int]),
    "at_seq2seq_task_free": (None, [ctypes.c_void_p]),
    "at_seq2seq_task_trainable": (ctypes.c_void_p, [ctypes.c_void_p]),
    "at_seq2seq_recipe_default": (None, [ctypes.POINTER(Recipe)]),
    "at_seq2seq_recipe_trainer_options": (None, [ctypes.POINTER(Recipe),
                                                 ctypes.POINTER(TrainerOptions)]),
    "at_train": (_c_int, [_ctx_p, ctypes.c_void_p, ctypes.POINTER(TrainerOptions),
                          ctypes.POINTER(TrainResult)]),
    "at_train_replicas": (_c_int, [_ctx_p, ctypes.POINTER(ctypes.c_void_p), _c_int,
                                   ctypes.POINTER(TrainerOptions), ctypes.POINTER(TrainResult)]),
    "at_seq2seq_free": (None, [_model_p]),
})

data_lib = sibling("libattend-data.so")  # the generated dates (ICU)
declare({
    "at_dates_create": (_c_int, [_ctx_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]),
    "at_dates_free": (None, [ctypes.c_void_p]),
    "at_dates_generate": (_c_int, [_ctx_p, ctypes.c_void_p, ctypes.c_uint64,
                                   ctypes.POINTER(ctypes.c_long), _pairs_p]),
}, data_lib)

AT_DECODER_SEED = 0


class Progress(dict):
    """Where a run is (a dict; keys also read as attributes): step,
    total_steps, loss (smoothed), lr, examples_per_second, seconds,
    valid (the latest evaluation's metrics, e.g. {"exact": 0.98,
    "char": 0.99}; {} before the first) and evaluated (True right after
    an evaluation)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def print_progress(p):
    """The default progress display: one line per call."""
    valid = "  ".join(f"valid {name} {100 * value:.2f}%" for name, value in p.valid.items())
    print(f"step {p.step}/{p.total_steps}  loss {p.loss:.4f}  {valid}  "
          f"{p.examples_per_second:.0f} ex/s", file=sys.stdout, flush=True)


class _Run:
    """One at_train call's C context, data and callback."""

    def __init__(self, threads, seed):
        self.ctx = new_context(ctypes.byref(CtxOptions(0, threads, seed)))
        self.train, self.valid = Pairs(), Pairs()
        self.stop = ctypes.c_int(0)
        self.error = None

    def check(self, function, *args):
        raise_for(self.ctx, function(*args))

    def close(self):
        lib.at_pairs_clear(ctypes.byref(self.train))
        lib.at_pairs_clear(ctypes.byref(self.valid))
        lib.at_ctx_free(self.ctx)

    def parse(self, parser, name):
        value = _c_int()
        self.check(parser, self.ctx, _text_arg("name", name), ctypes.byref(value))
        return value.value

    def add_pairs(self, pairs, into, what):
        for index, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(f"{what} pair {index}: expected (source, target), got {pair!r}")
            self.check(lib.at_pairs_add, self.ctx, ctypes.byref(into),
                       _text_arg(f"{what} pair {index} source", pair[0]),
                       _text_arg(f"{what} pair {index} target", pair[1]))

    def load_data(self, data, valid, seed, train_size, valid_size):
        """Fill train and valid as `attend train --data/--valid` does; the
        data id names the data in the checkpoints, as the CLI's does."""
        if isinstance(data, str) and data == "dates":
            self.generate_dates(seed, train_size, valid_size)
            data_id = f"dates:seed={seed}:train={train_size}:valid={valid_size}"
        elif isinstance(data, (str, os.PathLike)):
            self.check(lib.at_pairs_read_tsv, self.ctx, _text_arg("data", os.fspath(data)), 0,
                       ctypes.byref(self.train))
            data_id = None
        else:
            self.add_pairs(data, self.train, "data")
            data_id = None
        if valid is not None:
            lib.at_pairs_clear(ctypes.byref(self.valid))
            if isinstance(valid, (str, os.PathLike)):
                self.check(lib.at_pairs_read_tsv, self.ctx, _text_arg("valid", os.fspath(valid)),
                           0, ctypes.byref(self.valid))
            else:
                self.add_pairs(valid, self.valid, "valid")
            if self.valid.count == 0:
                raise ValueError("valid: no validation pairs")
        elif data_id is None:
            self.check(lib.at_pairs_hold_out, self.ctx, ctypes.byref(self.train),
                       ctypes.byref(self.valid), 5)
        return data_id

    def generate_dates(self, seed, train_size, valid_size):
        dates = ctypes.c_void_p()
        self.check(data_lib.at_dates_create, self.ctx, ctypes.byref(dates), None)
        try:
            splits = (Pairs * 3)()
            sizes = (ctypes.c_long * 3)(train_size, valid_size, 0)
            status = data_lib.at_dates_generate(self.ctx, dates, seed, sizes, splits)
            self.train, self.valid = splits[0], splits[1]
            lib.at_pairs_clear(ctypes.byref(splits[2]))
            raise_for(self.ctx, status)
        finally:
            data_lib.at_dates_free(dates)

    def callback(self, progress, every):
        """The C progress function: calls progress(Progress) at evaluations
        and every `every` steps; an exception stops the run."""

        def on_progress(_user, pointer):
            if self.error is not None:
                return
            p = pointer.contents
            try:
                if progress and (p.evaluated or p.step % every == 0
                                 or p.step == p.total_steps):
                    progress(Progress(step=p.step, total_steps=p.total_steps, loss=p.loss,
                                      lr=p.lr, examples_per_second=p.examples_per_second,
                                      seconds=p.seconds, valid=p.valid.contents.as_dict()
                                      if p.valid else {}, evaluated=bool(p.evaluated)))
            except BaseException as error:  # noqa: B902 - re-raised by train()
                self.error = error
                self.stop.value = 1

        return PROGRESS_FUNCTION(on_progress)


def _whole(name, value, low):
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, not {value!r}")
    return value


def _config(run, attention, decoder, seed, sizes):
    """The model's at_seq2seq_config: the library's defaults, then ours."""
    config = Seq2seqConfig()
    lib.at_seq2seq_config_default(ctypes.byref(config))
    if decoder == "seed":
        config.decoder = AT_DECODER_SEED
    elif decoder != "luong":
        raise ValueError(f"decoder must be 'seed' or 'luong', not {decoder!r}")
    if attention is not None:
        config.attention = run.parse(lib.at_attention_kind_parse, attention)
    for name, value in sizes.items():
        if value is not None:
            setattr(config, name, value)
    config.seed = seed
    return config


def _recipe(options):
    """The library's at_seq2seq_recipe: its defaults (those of `attend
    train`), then every option given (not None), each checked."""
    recipe = Recipe()
    lib.at_seq2seq_recipe_default(ctypes.byref(recipe))
    for name, value in options.items():
        if value is None:
            continue
        if name in _RECIPE_WHOLE:
            setattr(recipe, name, _whole(name, value, _RECIPE_WHOLE[name]))
        elif not 0 <= float(value) < float("inf"):
            raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        else:
            setattr(recipe, name, float(value))
    if recipe.steps == 0 and recipe.epochs == 0:
        raise ValueError("steps or epochs must be > 0")
    return recipe


def train(out, data="dates", valid=None, *, attention=None, decoder="luong", steps=None,
          epochs=None, batch=None, lr=None, final_lr=None, warmup=None, clip=None,
          eval_every=None, save_every=None, seed=None, minutes=None, threads=1, replicas=1,
          train_size=250000, valid_size=2000, source_tokens="chars", target_tokens="chars",
          encoder_layers=None, dropout=None, output_dropout=None, progress=print_progress,
          progress_every=100):
    """Train an encoder-decoder into the folder `out` and return the best
    model as a Translator (OUT/model.safetensors). The options and their
    defaults are those of `attend train` (see `attend train --help`); the
    training ones (steps ... minutes; None = the default) fill the
    library's at_seq2seq_recipe, the one recipe the CLI uses too:

      data           "dates" (generated), a TSV path, or [(source, target)]
      valid          a TSV path or [(source, target)]; default: dates
                     generate theirs, other data hold 5% out
      attention      "additive" (default), "dot", "general", "concat",
                     "location", "local-m", "local-p", "monotonic",
                     "forward", "multiplicative", "multi-head"
      decoder        "luong" (default) or "seed" (the Keras article's)
      steps/epochs   optimisation steps (3000), or passes over the data
      batch, lr      128 examples a step; Adam's peak rate 0.004, warmed
                     up over `warmup` (200) steps, then a cosine to
                     final_lr (lr / 100); clip 1; eval_every 500 steps
      threads        threads to compute on (1)
      replicas       copies of the model that train as one, each on
                     threads / replicas threads and a slice of every batch
                     (1; see docs/scale.md): threads and batch must be
                     multiples of it
      progress       f(attend.Progress) or None; see the module's text

    Raises AttendError with the library's message if the library refuses
    (e.g. an unknown attention name, a malformed TSV), and re-raises what
    the progress function raised (after the trainer saved OUT/last.*)."""
    recipe = _recipe(dict(steps=steps, epochs=epochs, batch=batch, warmup=warmup,
                          eval_every=eval_every, save_every=save_every, seed=seed, lr=lr,
                          final_lr=final_lr, clip=clip, minutes=minutes))
    for name, value in (("threads", threads), ("replicas", replicas), ("train_size", train_size),
                        ("valid_size", valid_size), ("progress_every", progress_every)):
        _whole(name, value, 0 if name in ("train_size", "valid_size") else 1)
    if threads % replicas or recipe.batch % replicas:
        raise ValueError(f"threads ({threads}) and batch ({recipe.batch}) must be multiples of "
                         f"replicas ({replicas})")
    seed = recipe.seed
    out_dir = _text_arg("out", os.fspath(out))
    run = _Run(threads, seed)
    model = _model_p()
    task = ctypes.c_void_p()
    copies = []  # (model, task) of replicas 1 .. replicas - 1
    try:
        data_id = run.load_data(data, valid, seed, train_size, valid_size)
        config = _config(run, attention, decoder, seed,
                         {"encoder_layers": encoder_layers, "dropout": dropout,
                          "output_dropout": output_dropout})
        kinds = [run.parse(lib.at_vocab_kind_parse, kind)
                 for kind in (source_tokens, target_tokens)]
        run.check(lib.at_seq2seq_create_for_pairs, run.ctx, ctypes.byref(model),
                  ctypes.byref(config), ctypes.byref(run.train), ctypes.byref(run.valid), *kinds)
        run.check(lib.at_seq2seq_task_create, run.ctx, ctypes.byref(task), model,
                  ctypes.byref(run.train), ctypes.byref(run.valid), recipe.batch)
        options = TrainerOptions()
        lib.at_seq2seq_recipe_trainer_options(ctypes.byref(recipe), ctypes.byref(options))
        options.out_dir = out_dir
        options.best_metric = b"exact"
        options.data_id = data_id.encode("utf-8") if data_id else None
        options.stop = ctypes.pointer(run.stop)
        options.progress = run.callback(progress, progress_every)
        result = TrainResult()
        trainables = [lib.at_seq2seq_task_trainable(task)]
        for _ in range(1, replicas):
            copies.append((_model_p(), ctypes.c_void_p()))
            copy, copy_task = copies[-1]
            run.check(lib.at_seq2seq_copy, run.ctx, ctypes.byref(copy), model)
            run.check(lib.at_seq2seq_task_create, run.ctx, ctypes.byref(copy_task), copy,
                      ctypes.byref(run.train), ctypes.byref(run.valid), recipe.batch)
            trainables.append(lib.at_seq2seq_task_trainable(copy_task))
        status = lib.at_train_replicas(run.ctx, (ctypes.c_void_p * replicas)(*trainables),
                                       replicas, ctypes.byref(options), ctypes.byref(result))
        if run.error is not None:
            raise run.error
        raise_for(run.ctx, status)
    finally:
        for copy, copy_task in copies:
            lib.at_seq2seq_task_free(copy_task)
            lib.at_seq2seq_free(copy)
        if task:
            lib.at_seq2seq_task_free(task)
        if model:
            lib.at_seq2seq_free(model)
        run.close()
    return Translator(out_dir + b"/model.safetensors")

