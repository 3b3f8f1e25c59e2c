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
import ctypes
import os
import threading

import numpy as np

from ._errors import AttendError
from ._lib import (Classification, Metadata, Translation, _ctx_p, _model_p, lib, libc_free,
                   status_name)


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
        self._ctx = _ctx_p()
        self._model = _model_p()
        status = lib.at_ctx_create(ctypes.byref(self._ctx), None)
        if status != 0:
            raise AttendError(status_name(status), "could not create a context")
        lib.at_ctx_set_grad(self._ctx, 0)
        try:
            self._check(loader, self._ctx, ctypes.byref(self._model), path, None)
        except BaseException:
            self.close()
            raise

    def _check(self, function, *args):
        status = function(*args)
        if status != 0:
            message = lib.at_ctx_error(self._ctx).decode("utf-8", "replace")
            raise AttendError(status_name(status), message)

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


class Translator(_Model):
    """An encoder-decoder (e.g. the date translator) from `attend train`."""

    _free = staticmethod(lib.at_seq2seq_free)

    def __init__(self, path):
        super().__init__(path, lib.at_seq2seq_load)

    def translate(self, text):
        """(output, weights, source_units, target_units): the greedy
        translation of text (str), its attention (T_out, T_in) float32, or
        (heads, T_out, T_in) for a multi-head model, each row summing to 1,
        and the units (characters, or tokens for a word model) that label
        the columns and the rows."""
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
            finally:
                lib.at_translation_clear(ctypes.byref(out))
        if shape[0] == 1:
            weights = weights[0]
        return output, weights, source, target

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


def _metadata_keys(path):
    """The metadata keys of the checkpoint at path (AttendError if it is
    none)."""
    ctx = _ctx_p()
    status = lib.at_ctx_create(ctypes.byref(ctx), None)
    if status != 0:
        raise AttendError(status_name(status), "could not create a context")
    meta = Metadata()
    try:
        status = lib.at_checkpoint_read_metadata(ctx, path, ctypes.byref(meta))
        if status != 0:
            raise AttendError(status_name(status),
                              lib.at_ctx_error(ctx).decode("utf-8", "replace"))
        return {meta.keys[i].decode("utf-8", "replace") for i in range(meta.count)}
    finally:
        lib.at_metadata_clear(ctypes.byref(meta))
        lib.at_ctx_free(ctx)


def load(path):
    """The trained model in the checkpoint at path: a Classifier (.predict)
    or a Translator (.translate). AttendError if the library cannot read
    it; NotImplementedError for a language model (not bound yet)."""
    data = _text_arg("path", os.fspath(path))
    keys = _metadata_keys(data)
    if "attend.classify" in keys:
        return Classifier(data)
    if "attend.lm" in keys:
        raise NotImplementedError(f"{path}: language models are not bound in Python yet")
    return Translator(data)
