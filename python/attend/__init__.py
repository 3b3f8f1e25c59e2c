"""attend: attention mechanisms from the C library libattend, on NumPy arrays.

    import numpy as np, attend
    context, weights = attend.dot_attention(q, k, v, mask=keep)

Every attention family of the C header is a function (attention.py lists
them): additive, dot and scaled dot, bilinear, Luong global and local,
monotonic (soft and hard), forward, HAN, per-feature, self-attention,
structured self-attention, key-value and multi-head.

The binding uses ctypes (standard library): nothing is compiled when the
package is installed, and the only dependency is NumPy (Debian's
python3-numpy). cffi in ABI mode would load the same library the same way
and add a dependency for no gain. The shared library is found through
ATTEND_LIBRARY, pkg-config, or a checkout's build/ directory (see _lib.py).

Every function checks its arrays (float32, C-contiguous, shape, finite),
runs in its own C context (no state shared between calls or threads; the
GIL is released during the C call) and raises AttendError with the
library's message when the library refuses.

Trained models: attend.load(path) gives a Classifier (.predict(text)), a
LanguageModel (.generate, .attention) or a Translator (.translate(text))
for a checkpoint the CLI wrote (models.py); attend.train(out, ...) trains a
translator with the library's trainer and a Python progress callback
(training.py). Pictures: an AttentionMap shows itself inline in Jupyter
and .save()s to PNG, SVG, PDF or HTML (maps.py).
"""
from ._errors import AttendError
from .attention import (additive_attention, bilinear_attention, dot_attention,
                        feature_attention, forward_attention, han_attention,
                        key_value_attention, luong_attention, luong_attentional,
                        luong_local_attention, monotonic_attention, monotonic_attention_hard,
                        multi_head, self_attention, structured_attention, structured_penalty)
from .maps import AttentionMap, Comparison, compare
from .models import (Classifier, LanguageModel, Prediction, TranslationResult, Translator,
                     load)
from .training import Progress, train

__all__ = ["AttendError", "additive_attention", "bilinear_attention", "dot_attention",
           "feature_attention", "han_attention", "multi_head",
           "luong_attention", "luong_attentional", "luong_local_attention",
           "monotonic_attention", "monotonic_attention_hard", "forward_attention",
           "self_attention", "structured_attention", "structured_penalty",
           "key_value_attention",
           "load", "Classifier", "Translator", "TranslationResult", "LanguageModel",
           "Prediction", "AttentionMap", "Comparison", "compare", "train", "Progress"]
__version__ = "0.1.0"
