"""Trained models from Python: attend.load(path) and what it returns.

A checkpoint written by the CLI is a safetensors file whose metadata says
what it holds: "attend.classify" for a document classifier
(attend/classify.h), "attend.lm" for a language model (attend/lm.h), and
"attend.model" for an encoder-decoder (attend/models.h). load() reads only
that metadata first (at_checkpoint_read_metadata, which validates the
header without reading the tensors), then calls the one loader that fits.
A file that is no checkpoint, or one a loader refuses, raises AttendError
with the library's message.

Each model owns its C model and its own at_ctx (the context the library
reports errors in and allocates from). A lock serialises the calls on one
model, so threads may share it; different models run in parallel (ctypes
releases the GIL during each C call). close() frees both, and is called by
__del__ and by the with statement; a call after close raises ValueError
instead of touching freed memory.

Every array returned is a NumPy copy, valid after the model is closed.
"""
import collections
import ctypes
import os
import threading

import numpy as np

from ._lib import (Classification, Metadata, Translation, _ctx_p, _model_p, declare, lib,
                   libc_free, new_context, raise_for)
from .maps import AttentionMap, _map_p, viz

declare({"at_attention_map_from_translation": (ctypes.c_int, [
    _ctx_p, ctypes.POINTER(_map_p), _model_p, ctypes.c_char_p, ctypes.c_char_p,
    ctypes.POINTER(Translation)])}, viz)


def _text_arg(name, text):
    """text as UTF-8 bytes for a C string; TypeError if it is no str,
    ValueError if it holds a NUL (C would silently cut it there)."""
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, not {type(text).__name__}")
    if "\0" in text:
        raise ValueError(f"{name} holds a NUL character at {text.index(chr(0))}")
    return text.encode("utf-8")


def _floats(pointer, count):
    """A float32 NumPy copy of count floats at pointer (None if NULL)."""
    if not pointer:
        return None
    return np.ctypeslib.as_array(pointer, shape=(count,)).astype(np.float32, copy=True)


class _Model:
    """A C model with its own context: the lifetime both share."""

    _free = None  # the C function that frees the model, set by each kind

    def __init__(self, path, loader):
        self._lock = threading.Lock()
        self._ctx = _ctx_p()      # NULL until made: close() may run first
        self._model = _model_p()
        self._ctx = new_context()
        lib.at_ctx_set_grad(self._ctx, 0)
        try:
            self._check(loader, self._ctx, ctypes.byref(self._model), path, None)
        except BaseException:
            self.close()
            raise

    def _check(self, function, *args):
        raise_for(self._ctx, function(*args))

    def _open(self):
        """Refuse a closed model (callers hold the lock, so close() cannot
        free it between this check and the C call)."""
        if not self._model:
            raise ValueError("model is closed")

    @property
    def closed(self):
        return not self._model

    def close(self):
        """Free the C model and its context; calling it again does nothing."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            if getattr(self, "_model", None):
                type(self)._free(self._model)
                self._model = _model_p()
            if getattr(self, "_ctx", None):
                lib.at_ctx_free(self._ctx)
                self._ctx = _ctx_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        self.close()


class Prediction(dict):
    """One document's prediction (a dict; keys also read as attributes):
    label (class name), classes (names, in the model's order), probs
    (C,) float32, words (the words the model read), sentences (words per
    sentence), word_weights (words,) summing to 1 within each sentence
    (flat: over all words), sentence_weights (sentences,) summing to 1 or
    None for a flat model, doc_weights (words,) each word's share of the
    document, summing to 1, unknown (words read as UNK). A text with no
    word has no words, sentences = [] and empty weight arrays."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Classifier(_Model):
    """A document classifier (HAN or flat) from `attend classify train`."""

    _free = staticmethod(lib.at_classifier_free)

    def __init__(self, path):
        super().__init__(path, lib.at_classifier_load)
        count = lib.at_classifier_classes(self._model)
        self.classes = [lib.at_classifier_class_name(self._model, i).decode("utf-8")
                        for i in range(count)]
        # at_classify_config starts with its at_classify_kind (0 han, 1 flat)
        config = lib.at_classifier_get_config(self._model)
        self.kind = ("han", "flat")[ctypes.cast(config, ctypes.POINTER(ctypes.c_int))[0]]

    def predict(self, text):
        """The Prediction of one text (see Prediction for its keys)."""
        data = _text_arg("text", text)
        with self._lock:
            self._open()
            out = Classification()
            try:
                self._check(lib.at_classifier_predict, self._ctx, self._model, data,
                            ctypes.byref(out))
                return self._prediction(out)
            finally:
                lib.at_classification_clear(ctypes.byref(out))

    def _prediction(self, out):
        tokens = out.tokens
        words = [tokens.word[i].decode("utf-8") for i in range(tokens.words)]
        sentences = [tokens.lengths[i] for i in range(tokens.sentences)]
        empty = np.zeros(0, dtype=np.float32)
        word_weights = _floats(out.word_weights, tokens.words)
        doc_weights = _floats(out.doc_weights, tokens.words)
        sentence_weights = _floats(out.sentence_weights, tokens.sentences)
        flat = self.kind == "flat"
        return Prediction(
            label=self.classes[out.label], classes=list(self.classes),
            probs=_floats(out.probs, out.classes), words=words, sentences=sentences,
            word_weights=empty if word_weights is None else word_weights,
            sentence_weights=None if flat else (empty if sentence_weights is None
                                                else sentence_weights),
            doc_weights=empty if doc_weights is None else doc_weights,
            unknown=out.unknown)


class TranslationResult(collections.namedtuple("TranslationResult",
                                                "text weights source target")):
    """What Translator.translate returns: text (the output, str), weights
    (T_out, T_in) float32, or (heads, T_out, T_in) for a multi-head model,
    each row summing to 1, and source / target, the units (characters, or
    tokens for a word model) that label the columns and the rows. It
    unpacks as a tuple: text, weights, source, target = model.translate(x).
    .map is its AttentionMap (the picture `attend translate --plot` draws);
    in a notebook the result shows as that map, inline."""

    map = None  # set by Translator.translate (a namedtuple has no __init__)

    def __repr__(self):
        return (f"TranslationResult(text={self.text!r}, weights={self.weights.dtype} "
                f"{self.weights.shape}, source={''.join(self.source)!r}, "
                f"target={''.join(self.target)!r})")

    def _repr_html_(self):
        return self.map._repr_html_()

    def _repr_png_(self):
        return self.map._repr_png_()

    def save(self, path):
        """The map to path (.png .svg .pdf .html, or .json weights)."""
        self.map.save(path)


class Translator(_Model):
    """An encoder-decoder (e.g. the date translator) from `attend train` or
    attend.train()."""

    _free = staticmethod(lib.at_seq2seq_free)

    def __init__(self, path):
        super().__init__(path, lib.at_seq2seq_load)

    def translate(self, text):
        """The greedy translation of text (str) with its attention: a
        TranslationResult (text, weights, source, target, and .map)."""
        data = _text_arg("text", text)
        with self._lock:
            self._open()
            out = Translation()
            try:
                self._check(lib.at_seq2seq_translate, self._ctx, self._model, data,
                            ctypes.byref(out))
                output = ctypes.string_at(out.text).decode("utf-8")
                shape = (out.heads, out.target_len, out.source_len)
                weights = _floats(out.weights, out.heads * out.target_len * out.source_len)
                weights = (np.zeros(shape, np.float32) if weights is None
                           else weights.reshape(shape))
                source = self._units(lib.at_seq2seq_source_vocab(self._model), data)
                target = self._units(lib.at_seq2seq_target_vocab(self._model),
                                     ctypes.string_at(out.text))
                picture = self._map(data, out) if out.target_len >= 1 else None
            finally:
                lib.at_translation_clear(ctypes.byref(out))
        result = TranslationResult(output, weights[0] if shape[0] == 1 else weights, source,
                                   target)
        result.map = picture
        return result

    def _map(self, data, out):
        """The AttentionMap of a translation, labelled and titled as the
        CLI's picture (at_attention_map_from_translation)."""
        c_map = _map_p()
        self._check(viz.at_attention_map_from_translation, self._ctx, ctypes.byref(c_map),
                    self._model, None, data, ctypes.byref(out))
        try:
            return AttentionMap._from_c(c_map)
        finally:
            viz.at_attention_map_free(c_map)

    def _units(self, vocab, data):
        """The units of data in vocab (at_vocab_split), as str."""
        if not data:
            return []
        units = ctypes.POINTER(ctypes.c_char_p)()
        count = ctypes.c_int()
        self._check(lib.at_vocab_split, self._ctx, vocab, data, ctypes.byref(units),
                    ctypes.byref(count))
        try:
            return [units[i].decode("utf-8") for i in range(count.value)]
        finally:
            libc_free(ctypes.cast(units, ctypes.c_void_p))


class _SampleOptions(ctypes.Structure):  # at_lm_sample_options, attend/lm.h
    _fields_ = [("length", ctypes.c_int), ("temperature", ctypes.c_float),
                ("top_k", ctypes.c_int), ("seed", ctypes.c_uint64)]


class _LmAttention(ctypes.Structure):  # at_lm_attention, attend/lm.h
    _fields_ = [("layers", ctypes.c_int), ("heads", ctypes.c_int), ("length", ctypes.c_int),
                ("weights", ctypes.POINTER(ctypes.c_float)),
                ("labels", ctypes.POINTER(ctypes.c_char_p))]


declare({
    "at_lm_load": (ctypes.c_int, [_ctx_p, ctypes.POINTER(_model_p), ctypes.c_char_p,
                                  ctypes.c_void_p]),
    "at_lm_free": (None, [_model_p]),
    "at_lm_get_config": (ctypes.POINTER(ctypes.c_int), [_model_p]),
    "at_lm_kind_name": (ctypes.c_char_p, [ctypes.c_int]),
    "at_lm_generate": (ctypes.c_int, [_ctx_p, _model_p, ctypes.c_char_p,
                                      ctypes.POINTER(_SampleOptions),
                                      ctypes.POINTER(ctypes.c_void_p)]),
    "at_lm_attention_of": (ctypes.c_int, [_ctx_p, _model_p, ctypes.c_char_p,
                                          ctypes.POINTER(_LmAttention)]),
    "at_lm_attention_clear": (None, [ctypes.POINTER(_LmAttention)]),
})


class LanguageModel(_Model):
    """A character language model from `attend lm train` (attend/lm.h):
    a Transformer or one of Daniluk's LSTMs with attention."""

    _free = staticmethod(lib.at_lm_free)

    def __init__(self, path):
        super().__init__(path, lib.at_lm_load)
        # at_lm_config: kind, context, layers, heads, ... (ints first)
        config = lib.at_lm_get_config(self._model)
        self.kind = lib.at_lm_kind_name(config[0]).decode("utf-8")
        self.context = config[1]

    def generate(self, prompt, length=200, temperature=1.0, top_k=0, seed=1):
        """prompt followed by `length` sampled characters (str): logits /
        temperature (0 = the most likely character), the top_k largest kept
        (0 = all), draws seeded by seed, so a seed repeats its text."""
        data = _text_arg("prompt", prompt)
        for name, value in (("length", length), ("top_k", top_k), ("seed", seed)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
        if not 0 <= float(temperature) < float("inf"):
            raise ValueError(f"temperature must be a finite number >= 0, not {temperature!r}")
        options = _SampleOptions(length, float(temperature), top_k, seed)
        with self._lock:
            self._open()
            text = ctypes.c_void_p()
            try:
                self._check(lib.at_lm_generate, self._ctx, self._model, data,
                            ctypes.byref(options), ctypes.byref(text))
                return ctypes.string_at(text).decode("utf-8")
            finally:
                libc_free(text)

    def attention(self, passage):
        """(weights, labels): the attention of the model reading passage
        (1 .. context characters it knows) as (layers, heads, T, T) float32,
        row t over the characters it may see, and the T characters. The
        LSTM kinds with attention have one layer and one head; lstm and
        ngram have none (AttendError)."""
        data = _text_arg("passage", passage)
        with self._lock:
            self._open()
            out = _LmAttention()
            try:
                self._check(lib.at_lm_attention_of, self._ctx, self._model, data,
                            ctypes.byref(out))
                shape = (out.layers, out.heads, out.length, out.length)
                weights = _floats(out.weights, int(np.prod(shape))).reshape(shape)
                labels = [out.labels[i].decode("utf-8") for i in range(out.length)]
            finally:
                lib.at_lm_attention_clear(ctypes.byref(out))
        return weights, labels

    def attention_map(self, passage, layer=-1):
        """The AttentionMap of one layer (default the last) of
        attention(passage): every head, queries down, keys along the top."""
        weights, labels = self.attention(passage)
        return AttentionMap(weights[layer], labels, labels, title=passage,
                            model=f"{self.kind} language model",
                            mechanism=f"layer {range(len(weights))[layer] + 1} of {len(weights)}")


def _metadata_keys(path):
    """The metadata keys of the checkpoint at path (AttendError if it is
    none)."""
    ctx = new_context()
    meta = Metadata()
    try:
        raise_for(ctx, lib.at_checkpoint_read_metadata(ctx, path, ctypes.byref(meta)))
        return {meta.keys[i].decode("utf-8", "replace") for i in range(meta.count)}
    finally:
        lib.at_metadata_clear(ctypes.byref(meta))
        lib.at_ctx_free(ctx)


def load(path):
    """The trained model in the checkpoint at path: a Classifier (.predict),
    a LanguageModel (.generate, .attention) or a Translator (.translate:
    the date translator, G2P, any TSV pairs). AttendError if the library
    cannot read it."""
    data = _text_arg("path", os.fspath(path))
    keys = _metadata_keys(data)
    if "attend.classify" in keys:
        return Classifier(data)
    if "attend.lm" in keys:
        return LanguageModel(data)
    return Translator(data)
