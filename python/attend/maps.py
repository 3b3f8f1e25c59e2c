"""Attention maps as pictures, where the learner is: inline in a notebook.

An AttentionMap is the data of one picture: weights (heads, rows, cols)
with rows = the query / output tokens (drawn down the side) and cols = the
key / input tokens (along the top), their labels, and a title, model and
mechanism name. It is attend/viz.h's at_attention_map, kept in NumPy on the
Python side; each picture is drawn by the C library (cairo and pango):

    m = attend.AttentionMap(weights, rows=["2", "0", ...], cols=list("May 9"))
    m                     # in Jupyter: the interactive HTML map, inline
    m.save("map.svg")     # .png .svg .pdf .html (at_plot_map) or .json
                          # (the weights file at_attention_map_save writes)

Jupyter calls _repr_html_ (the library's self-contained interactive page,
offline, in an iframe so that two maps on one page cannot touch each
other's script or style) and _repr_png_ (the cairo heatmap) when it shows
the object. Both draw into a temporary directory that is removed at once.

The colour scale is [0, 1], as in the C library: weights are probabilities.
"""
import ctypes
import html
import os
import tempfile

import numpy as np

from ._lib import Session, _c_char_p, _c_int, _ctx_p, _float_p, declare, sibling

viz = sibling("libattend-viz.so")  # the pictures: cairo and pango

_map_p = ctypes.c_void_p  # at_attention_map *: its fields are not read here
_labels_p = ctypes.POINTER(ctypes.c_char_p)

declare({
    "at_attention_map_create": (_c_int, [_ctx_p, ctypes.POINTER(_map_p), _c_int, _c_int,
                                         _c_int]),
    "at_attention_map_free": (None, [_map_p]),
    "at_attention_map_set_labels": (_c_int, [_ctx_p, _map_p, _labels_p, _labels_p]),
    "at_attention_map_set_text": (_c_int, [_ctx_p, _map_p, _c_char_p, _c_char_p, _c_char_p]),
    "at_attention_map_set_weights": (_c_int, [_ctx_p, _map_p, _c_int, _float_p, _c_int]),
    "at_attention_map_save": (_c_int, [_ctx_p, _map_p, _c_char_p]),
    "at_plot_map": (_c_int, [_ctx_p, _map_p, _c_char_p]),
    "at_plot_compare": (_c_int, [_ctx_p, _c_int, ctypes.POINTER(_map_p), _c_char_p,
                                 _c_char_p]),
}, viz)

MAX_TOKENS = 4096  # AT_VIZ_MAX_TOKENS
MAX_HEADS = 64     # AT_VIZ_MAX_HEADS
PICTURE_FORMATS = (".png", ".svg", ".pdf", ".html")


class CMap(ctypes.Structure):  # at_attention_map, attend/viz.h (read-only here)
    _fields_ = [("heads", ctypes.c_int), ("rows", ctypes.c_int), ("cols", ctypes.c_int),
                ("weights", _float_p), ("row_labels", _labels_p), ("col_labels", _labels_p),
                ("title", ctypes.c_char_p), ("model", ctypes.c_char_p),
                ("mechanism", ctypes.c_char_p)]


def _labels(name, labels, count):
    """count label strings: the given ones, checked, or "1" .. "count"."""
    if labels is None:
        return [str(i + 1) for i in range(count)]
    labels = [str(label) for label in labels]
    if len(labels) != count:
        raise ValueError(f"{name}: {len(labels)} labels for {count} {name}")
    return labels


def _weights(weights):
    """weights as a C-contiguous (heads, rows, cols) float32 copy, checked."""
    array = np.array(weights, dtype=np.float32, copy=True)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"weights: expected (rows, cols) or (heads, rows, cols), "
                         f"got shape {np.shape(weights)}")
    heads, rows, cols = array.shape
    if not (1 <= heads <= MAX_HEADS and 1 <= rows <= MAX_TOKENS and 1 <= cols <= MAX_TOKENS):
        raise ValueError(f"weights: shape {array.shape} is outside 1..{MAX_HEADS} heads and "
                         f"1..{MAX_TOKENS} rows and columns")
    if not np.isfinite(array).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"weights: not finite at {where}")
    return np.ascontiguousarray(array)


class _Picture:
    """What every picture object shares: render() and the notebook's
    _repr_png_ / _repr_html_, all through the subclass's save()."""

    def render(self, extension):
        """The picture as bytes: extension is ".png", ".svg", ".pdf" or
        ".html"."""
        if extension not in PICTURE_FORMATS:
            raise ValueError(f"extension must be one of {', '.join(PICTURE_FORMATS)}, "
                             f"not {extension!r}")
        with tempfile.TemporaryDirectory(prefix="attend-map-") as folder:
            path = os.path.join(folder, "map" + extension)
            self.save(path)
            with open(path, "rb") as picture:
                return picture.read()

    def _repr_png_(self):
        return self.render(".png")

    def _repr_html_(self):
        page = self.render(".html").decode("utf-8")
        # The page sizes itself; the iframe takes its height once loaded.
        return ('<iframe class="attend-map" style="width:100%;border:0;height:480px" '
                'onload="this.style.height=(this.contentWindow.document.documentElement'
                '.scrollHeight+8)+\'px\'" srcdoc="' + html.escape(page, quote=True)
                + '"></iframe>')


class AttentionMap(_Picture):
    """One attention picture's data (attend/viz.h's at_attention_map).

    weights: (rows, cols) or (heads, rows, cols), rows = queries / outputs,
    cols = keys / inputs; any real numbers, drawn on the [0, 1] scale.
    rows, cols: the labels (default "1", "2", ...). title, model, mechanism:
    free text shown with the picture. Everything is copied."""

    def __init__(self, weights, rows=None, cols=None, title="", model="", mechanism=""):
        self.weights = _weights(weights)
        heads, count_rows, count_cols = self.weights.shape
        self.rows = _labels("rows", rows, count_rows)
        self.cols = _labels("cols", cols, count_cols)
        self.title, self.model, self.mechanism = str(title), str(model), str(mechanism)

    @property
    def heads(self):
        return self.weights.shape[0]

    def __repr__(self):
        return (f"AttentionMap({self.heads} head(s), {len(self.rows)} rows x {len(self.cols)} "
                f"cols, title={self.title!r})")

    @classmethod
    def _from_c(cls, pointer):
        """A Python copy of a C at_attention_map."""
        m = ctypes.cast(pointer, ctypes.POINTER(CMap)).contents
        count = m.heads * m.rows * m.cols
        weights = np.ctypeslib.as_array(m.weights, shape=(count,)).reshape(m.heads, m.rows,
                                                                           m.cols)
        text = lambda value: (value or b"").decode("utf-8")  # noqa: E731
        return cls(weights.copy(), [text(m.row_labels[i]) for i in range(m.rows)],
                   [text(m.col_labels[i]) for i in range(m.cols)], text(m.title),
                   text(m.model), text(m.mechanism))

    def _build(self, session):
        """A C copy of the map (in session's context); the caller frees it
        with viz.at_attention_map_free."""
        c_map = _map_p()
        heads, rows, cols = self.weights.shape
        session.check(viz.at_attention_map_create, session.ctx, ctypes.byref(c_map), heads,
                      rows, cols)
        try:
            encode = lambda labels: (ctypes.c_char_p * len(labels))(  # noqa: E731
                *[label.encode("utf-8") for label in labels])
            session.check(viz.at_attention_map_set_labels, session.ctx, c_map,
                          encode(self.rows), encode(self.cols))
            session.check(viz.at_attention_map_set_text, session.ctx, c_map,
                          self.title.encode("utf-8"), self.model.encode("utf-8"),
                          self.mechanism.encode("utf-8"))
            for head in range(heads):
                session.check(viz.at_attention_map_set_weights, session.ctx, c_map, head,
                              self.weights[head].ctypes.data_as(_float_p), cols)
        except BaseException:
            viz.at_attention_map_free(c_map)
            raise
        return c_map

    def save(self, path):
        """Write the map to path: a picture (.png, .svg, .pdf, .html, by the
        extension, as at_plot_map draws it) or the weights file (.json,
        at_attention_map_save), atomically. AttendError if the library
        refuses (its message says why)."""
        path = os.fspath(path)
        function = (viz.at_attention_map_save if path.lower().endswith(".json")
                    else viz.at_plot_map)
        with Session() as session:
            c_map = self._build(session)
            try:
                session.check(function, session.ctx, c_map, path.encode("utf-8"))
            finally:
                viz.at_attention_map_free(c_map)


class Comparison(_Picture):
    """Several maps side by side in one figure (at_plot_compare): the same
    input under several models, each panel named "model · mechanism", or
    several inputs, each panel under its own title. A multi-head map is
    shown as the mean of its heads. title: the heading (None: none)."""

    def __init__(self, maps, title=None):
        self.maps = list(maps)
        if not self.maps or not all(isinstance(m, AttentionMap) for m in self.maps):
            raise ValueError("compare: give one AttentionMap or more")
        self.title = title

    def save(self, path):
        """Write the figure to path: .png, .svg, .pdf or .html."""
        title = None if self.title is None else str(self.title).encode("utf-8")
        with Session() as session:
            built = []
            try:
                for m in self.maps:
                    built.append(m._build(session))
                session.check(viz.at_plot_compare, session.ctx, len(built),
                              (_map_p * len(built))(*built), title,
                              os.fspath(path).encode("utf-8"))
            finally:
                for c_map in built:
                    viz.at_attention_map_free(c_map)


def compare(maps, title=None):
    """A Comparison of maps (see Comparison): shows inline in a notebook,
    .save(path) writes it."""
    return Comparison(maps, title)
