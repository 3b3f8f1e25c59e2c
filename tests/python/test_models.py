"""attend.load: trained models from Python agree with the CLI that trained them.

Tiny models are trained here by the CLI (a HAN and a flat classifier on a
synthetic ham/spam TSV, one epoch; a date translator and a two-head one,
60 steps), then loaded from Python. Checked: the classifier's label and
probability and its five heaviest words equal what `attend classify MODEL
FILE --text` prints; the translator's output, unit labels and attention
equal `attend translate --weights json`; every attention distribution sums
to 1 (doc weights = word weight x sentence weight); a closed model raises
ValueError; a file that is no model raises AttendError with the library's
message; one model shared by two threads gives what one thread gives.

Run by ctest (python_models):
  /usr/bin/python3 tests/python/test_models.py PATH/TO/attend
with ATTEND_LIBRARY and PYTHONPATH set as for python_binding.
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np

import attend

CLI = None  # the attend binary, from the command line
DOCUMENT = "Win free cash now! Claim the prize. Meeting about the project report."
DATES = ["3 May 1999", "tuesday, 17 june 2003", "12/01/85"]


def run_cli(*args):
    done = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"attend {' '.join(args)} failed ({done.returncode}):\n"
                             f"{done.stdout}{done.stderr}")
    return done.stdout


def write_documents(path):
    """40 short ham/spam documents of two sentences each, seeded."""
    rng = random.Random(7)
    spam = "win money free prize cash offer click now claim".split()
    ham = "meeting tomorrow project report lunch team notes schedule about".split()
    with open(path, "w", encoding="utf-8") as out:
        for i in range(40):
            label, words = ("spam", spam) if i % 2 else ("ham", ham)
            first = " ".join(rng.choice(words) for _ in range(6))
            second = " ".join(rng.choice(words) for _ in range(5))
            out.write(f"{label}\t{first}. {second}!\n")


def assert_sums_to_one(name, weights, axis=-1, tolerance=1e-5):
    total = np.asarray(weights, dtype=np.float64).sum(axis=axis)
    worst = np.abs(total - 1).max()
    if worst > tolerance:
        raise AssertionError(f"{name}: sums {total} differ from 1 by up to {worst:.3g}")


def assert_close(name, got, want, tolerance):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"{name}: shape {got.shape}, the CLI's {want.shape}")
    error = np.abs(got - want)
    if error.max() > tolerance:
        bad = np.argwhere(error > tolerance)[:5]
        lines = [f"  at {tuple(i)}: {got[tuple(i)]:.7g}, CLI {want[tuple(i)]:.7g}" for i in bad]
        raise AssertionError(f"{name}: largest error {error.max():.3g} > {tolerance}\n"
                             + "\n".join(lines))


class Trained(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="attend-models-")
        d = cls.dir.name
        tsv = os.path.join(d, "train.tsv")
        write_documents(tsv)
        sizes = ["--embed", "8", "--hidden", "4", "--attn", "8", "--min-count", "1",
                 "--epochs", "1", "--threads", "1"]
        for kind in ("han", "flat"):
            run_cli("classify", "train", "--train", tsv, "--dev", tsv, "--model", kind, *sizes,
                    "--out", os.path.join(d, kind))
        tiny = ["--data", "dates", "--steps", "60", "--embed", "8", "--encoder", "8",
                "--decoder-size", "16", "--attn-size", "8", "--batch", "16",
                "--train-size", "500", "--valid-size", "50", "--eval-every", "60",
                "--lr", "0.02", "--warmup", "5"]
        run_cli("train", *tiny, "--out", os.path.join(d, "dates"))
        run_cli("train", *tiny, "--attention", "multi-head", "--heads", "2",
                "--out", os.path.join(d, "heads"))
        cls.document = os.path.join(d, "document.txt")
        with open(cls.document, "w", encoding="utf-8") as out:
            out.write(DOCUMENT)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def model(self, name):
        return os.path.join(self.dir.name, name, "model.safetensors")

    # ------------------------------------------------------------ classifier
    def cli_prediction(self, name):
        """(label, probability, [(word, doc weight)] heaviest first) as
        `attend classify MODEL FILE --text` prints them."""
        lines = run_cli("classify", self.model(name), self.document, "--text").splitlines()
        # "FILE: LABEL PROBABILITY" then "  (K of N words unknown)" if any
        found = re.fullmatch(r".*: (\S+) ([0-9.]+)(?:  \((\d+) of \d+ words unknown\))?",
                             lines[0])
        self.assertIsNotNone(found, lines[0])
        label, probability = found.group(1), found.group(2)
        self.unknown = int(found.group(3) or 0)
        fields = lines[1].split()
        self.assertEqual(fields[0], "words:", lines)
        top = [(fields[i], float(fields[i + 1])) for i in range(1, len(fields), 2)]
        return label, float(probability), top

    def check_classifier(self, name):
        label, probability, top = self.cli_prediction(name)
        with attend.load(self.model(name)) as model:
            self.assertIsInstance(model, attend.Classifier)
            self.assertEqual(model.kind, name)
            self.assertEqual(model.classes, ["ham", "spam"])
            p = model.predict(DOCUMENT)
        self.assertEqual(p.label, label)
        self.assertEqual(p.unknown, self.unknown)
        self.assertGreater(p.unknown, 0)  # "the" is in no training document
        self.assertEqual(p.classes, ["ham", "spam"])
        self.assertAlmostEqual(float(p.probs[p.classes.index(label)]), probability, delta=5e-5)
        assert_sums_to_one("probs", p.probs)
        self.assertEqual(sum(p.sentences), len(p.words))
        self.assertEqual(p.word_weights.shape, (len(p.words),))
        self.assertEqual(p.doc_weights.dtype, np.float32)
        assert_sums_to_one("doc_weights", p.doc_weights)
        heaviest = np.argsort(-p.doc_weights, kind="stable")[:len(top)]
        self.assertEqual([p.words[i] for i in heaviest], [w for w, _ in top])
        assert_close("top doc weights", p.doc_weights[heaviest], [v for _, v in top], 5e-4)
        return p

    def test_han_agrees_with_cli(self):
        p = self.check_classifier("han")
        self.assertEqual(p.words[:4], ["win", "free", "cash", "now"])
        self.assertEqual(p.sentences, [5, 3, 5])  # "!" is a word of its own
        starts = np.cumsum([0] + p.sentences)
        for i, (a, b) in enumerate(zip(starts[:-1], starts[1:])):
            assert_sums_to_one(f"word_weights of sentence {i}", p.word_weights[a:b])
        assert_sums_to_one("sentence_weights", p.sentence_weights)
        each_word = np.repeat(p.sentence_weights, p.sentences)
        assert_close("doc = word x sentence", p.doc_weights, p.word_weights * each_word, 1e-6)

    def test_flat_agrees_with_cli(self):
        p = self.check_classifier("flat")
        self.assertIsNone(p.sentence_weights)
        assert_sums_to_one("word_weights", p.word_weights)
        assert_close("doc = word", p.doc_weights, p.word_weights, 1e-7)

    def test_text_without_words(self):
        with attend.load(self.model("han")) as model:
            p = model.predict(" ... ")
        self.assertEqual((p.words, p.sentences), ([], []))
        self.assertEqual(p.doc_weights.shape, (0,))
        assert_sums_to_one("probs", p.probs)

    def test_prediction_arrays_are_copies(self):
        model = attend.load(self.model("han"))
        p = model.predict(DOCUMENT)
        kept = p.doc_weights.copy()
        model.predict("something else entirely. with two sentences")
        model.close()
        np.testing.assert_array_equal(p.doc_weights, kept)

    # ------------------------------------------------------------ translator
    def check_translator(self, name, heads):
        with attend.load(self.model(name)) as model:
            self.assertIsInstance(model, attend.Translator)
            for text in DATES:
                want = json.loads(run_cli("translate", self.model(name), "--weights", "json",
                                          text))
                output, weights, source, target = model.translate(text)
                self.assertEqual(output, want["output"])
                self.assertEqual(source, want["source"])
                self.assertEqual(target, want["target"])
                self.assertEqual(list(source), list(text))  # a character model
                expected = np.array(want["weights"], dtype=np.float64)
                if heads == 1:
                    expected = expected[0]
                self.assertEqual(weights.shape,
                                 (heads,) * (heads > 1) + (len(target), len(source)))
                self.assertEqual(weights.dtype, np.float32)
                assert_close(f"weights of {text!r}", weights, expected, 5e-5)
                if len(target):
                    assert_sums_to_one(f"weights of {text!r}", weights)

    def test_translator_agrees_with_cli(self):
        self.check_translator("dates", heads=1)

    def test_multi_head_translator_agrees_with_cli(self):
        self.check_translator("heads", heads=2)

    def test_translate_refuses_empty_text(self):
        with attend.load(self.model("dates")) as model:
            with self.assertRaises(attend.AttendError) as caught:
                model.translate("")
            self.assertIn("empty", str(caught.exception))
            with self.assertRaises(TypeError):
                model.translate(b"3 May 1999")
            with self.assertRaises(ValueError):
                model.translate("3 May\x001999")

    # ---------------------------------------------------------- the lifetime
    def test_closed_model_raises(self):
        for name, call in (("han", lambda m: m.predict(DOCUMENT)),
                           ("dates", lambda m: m.translate("3 May 1999"))):
            model = attend.load(self.model(name))
            call(model)
            model.close()
            self.assertTrue(model.closed)
            with self.assertRaises(ValueError) as caught:
                call(model)
            self.assertEqual(str(caught.exception), "model is closed")
            model.close()  # twice is harmless
            del model      # and so is __del__ after close

    def test_wrong_files_raise_attend_error(self):
        with self.assertRaises(attend.AttendError) as caught:
            attend.load(self.document)
        self.assertIn(self.document, caught.exception.message)
        missing = os.path.join(self.dir.name, "missing.safetensors")
        with self.assertRaises(attend.AttendError) as caught:
            attend.load(missing)
        self.assertIn("missing.safetensors", caught.exception.message)
        # A real checkpoint that is neither model: the optimiser's state.
        optimiser = os.path.join(self.dir.name, "dates", "last.optim.safetensors")
        with self.assertRaises(attend.AttendError) as caught:
            attend.load(optimiser)
        self.assertIn("last.optim.safetensors", caught.exception.message)
        # A truncated classifier: the metadata reads, the tensors do not.
        truncated = os.path.join(self.dir.name, "truncated.safetensors")
        with open(self.model("han"), "rb") as whole, open(truncated, "wb") as part:
            data = whole.read()
            part.write(data[:len(data) - 16])
        with self.assertRaises(attend.AttendError):
            attend.load(truncated)

    def test_threads_share_a_model(self):
        with attend.load(self.model("dates")) as model:
            alone = [model.translate(text) for text in DATES]
            got = [None] * 8

            def work(i):
                got[i] = model.translate(DATES[i % len(DATES)])

            threads = [threading.Thread(target=work, args=(i,)) for i in range(len(got))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for i, result in enumerate(got):
            want = alone[i % len(DATES)]
            self.assertEqual(result[0], want[0])
            np.testing.assert_array_equal(result[1], want[1])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_models.py PATH/TO/attend")
    CLI = sys.argv.pop(1)
    unittest.main(verbosity=2)
