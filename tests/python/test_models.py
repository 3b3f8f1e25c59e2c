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

A character language model (a one-block Transformer, 20 steps) generates
from Python what `attend lm generate` prints with the same seed, and its
attention is causal, one distribution per row.

attend.train: a translator trained from Python with the tiny options has
the very weights `attend train` gives with the same options, and the CLI
translates it as Python does; the progress function sees every step of
its choosing and the evaluations; an exception it raises stops the run
(last.safetensors saved) and comes out of train(); with replicas=2 it
equals `attend train --threads 2 --replicas 2`; bad options raise
before or with the library's message.

AttentionMap: the PNG, SVG, PDF and HTML pictures and the JSON weights
file are written, the inline HTML is the library's page in an iframe, and
bad weights or labels raise ValueError, a bad extension AttendError.

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
        text = os.path.join(d, "text.txt")
        with open(text, "w", encoding="utf-8") as out:
            rng = random.Random(1)
            words = "the cat sat on a mat and the dog ran to the sea".split()
            out.write(" ".join(rng.choice(words) for _ in range(3000)))
        run_cli("lm", "train", "--data", text, "--layers", "1", "--heads", "2", "--width",
                "16", "--context", "16", "--steps", "20", "--batch", "4", "--eval-every", "20",
                "--out", os.path.join(d, "lm"))
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


    # ------------------------------------------------------- language model
    def test_language_model_generates_as_cli(self):
        with attend.load(self.model("lm")) as model:
            self.assertIsInstance(model, attend.LanguageModel)
            self.assertEqual((model.kind, model.context), ("transformer", 16))
            for seed, temperature in ((3, 1.0), (4, 0.0)):
                want = run_cli("lm", "generate", self.model("lm"), "--prompt", "the ",
                               "--length", "30", "--seed", str(seed), "--temperature",
                               str(temperature))
                got = model.generate("the ", length=30, seed=seed, temperature=temperature)
                self.assertEqual(got + "\n", want)
                self.assertEqual(len(got), 34)
            with self.assertRaises(attend.AttendError) as caught:
                model.generate("the \u00e9", length=3)  # a character it never saw
            self.assertIn("U+00E9", caught.exception.message)
            for bad in (dict(length=-1), dict(temperature=float("nan")), dict(top_k=1.5)):
                with self.assertRaises(ValueError):
                    model.generate("the ", **bad)

    def test_language_model_attention_is_causal(self):
        with attend.load(self.model("lm")) as model:
            weights, labels = model.attention("the cat sat")
            self.assertEqual(weights.shape, (1, 2, 11, 11))
            self.assertEqual(labels, list("the cat sat"))
            assert_sums_to_one("lm attention rows", weights)
            above = np.triu(np.ones((11, 11), bool), 1)
            self.assertEqual(float(np.abs(weights[..., above]).max()), 0.0)
            picture = model.attention_map("the cat sat")
            self.assertEqual((picture.heads, picture.rows), (2, list("the cat sat")))
            with self.assertRaises(attend.AttendError):
                model.attention("x" * 17)  # longer than the context
        self.assertTrue(model.closed)

    def test_two_models_in_two_threads(self):
        """Two different models, each in its own thread at once, give what
        each gives alone (each has its own C context; ctypes releases the
        GIL, so both are inside the library together)."""
        with attend.load(self.model("dates")) as one, attend.load(self.model("heads")) as two:
            alone = {id(m): [m.translate(t) for t in DATES * 3] for m in (one, two)}
            got = {}
            start = threading.Barrier(2)

            def work(model):
                start.wait()
                got[id(model)] = [model.translate(t) for t in DATES * 3]

            threads = [threading.Thread(target=work, args=(m,)) for m in (one, two)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            for model in (one, two):
                for want, result in zip(alone[id(model)], got[id(model)]):
                    self.assertEqual(result.text, want.text)
                    np.testing.assert_array_equal(result.weights, want.weights)


TINY = dict(steps=60, batch=16, train_size=500, valid_size=50, eval_every=30, lr=0.02,
            warmup=5)
TINY_CLI = ["--steps", "60", "--batch", "16", "--train-size", "500", "--valid-size", "50",
            "--eval-every", "30", "--lr", "0.02", "--warmup", "5"]


def checkpoint_tensors(path):
    """{name: float32 array} of a safetensors file, read with NumPy alone
    (8-byte little-endian header length, the JSON header, the data)."""
    with open(path, "rb") as f:
        raw = f.read()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + size])
    header.pop("__metadata__", None)
    return {name: np.frombuffer(raw[8 + size + entry["data_offsets"][0]:
                                    8 + size + entry["data_offsets"][1]], np.float32)
            for name, entry in header.items()}


class TrainedInPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="attend-train-")
        cls.calls = []
        cls.model = attend.train(cls.path("python"), progress=cls.calls.append,
                                 progress_every=10, **TINY)
        run_cli("train", *TINY_CLI, "--out", cls.path("cli"))

    @classmethod
    def tearDownClass(cls):
        cls.model.close()
        cls.dir.cleanup()

    @classmethod
    def path(cls, *names):
        return os.path.join(cls.dir.name, *names)

    def test_same_weights_as_the_cli(self):
        ours = checkpoint_tensors(self.path("python", "model.safetensors"))
        theirs = checkpoint_tensors(self.path("cli", "model.safetensors"))
        self.assertEqual(sorted(ours), sorted(theirs))
        for name in ours:
            np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)

    def test_cli_translates_as_python(self):
        for text in DATES:
            want = json.loads(run_cli("translate", self.path("python", "model.safetensors"),
                                      "--weights", "json", text))
            result = self.model.translate(text)
            self.assertEqual(result.text, want["output"])
            assert_close(f"weights of {text!r}", result.weights, np.array(want["weights"][0]),
                         5e-5)
            self.assertEqual((result.map.rows, result.map.cols), (want["target"],
                                                                  want["source"]))

    def test_progress_sees_steps_and_evaluations(self):
        steps = [p.step for p in self.calls]
        self.assertEqual(steps, sorted(steps))
        self.assertTrue({10, 20, 30, 40, 50, 60} <= set(steps), steps)
        evaluated = [p for p in self.calls if p.evaluated]
        self.assertEqual([p.step for p in evaluated], [30, 60])
        for p in evaluated:
            self.assertEqual(set(p.valid), {"exact", "char"})
            self.assertTrue(0 <= p.valid["char"] <= 1)
        self.assertEqual(self.calls[0].valid, {})
        self.assertTrue(all(p.total_steps == 60 and np.isfinite(p.loss) for p in self.calls))

    def test_an_exception_in_progress_stops_the_run(self):
        def stop_at_20(p):
            if p.step >= 20:
                raise KeyboardInterrupt("stop")

        out = self.path("stopped")
        with self.assertRaises(KeyboardInterrupt):
            attend.train(out, progress=stop_at_20, progress_every=1, **TINY)
        with open(os.path.join(out, "metrics.jsonl"), encoding="utf-8") as f:
            last_step = max(json.loads(line)["step"] for line in f if line.strip())
        self.assertLessEqual(last_step, 21)
        self.assertTrue(os.path.exists(os.path.join(out, "last.safetensors")))

    def test_replicas_as_the_cli(self):
        with attend.train(self.path("replicas"), threads=2, replicas=2, progress=None, **TINY):
            pass
        run_cli("train", *TINY_CLI, "--threads", "2", "--replicas", "2", "--out",
                self.path("cli-replicas"))
        ours = checkpoint_tensors(self.path("replicas", "model.safetensors"))
        theirs = checkpoint_tensors(self.path("cli-replicas", "model.safetensors"))
        self.assertEqual(sorted(ours), sorted(theirs))
        for name in ours:
            np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
        for bad in (dict(threads=1, replicas=2), dict(threads=2, replicas=2, batch=15),
                    dict(threads=2, replicas=0)):
            options = dict(TINY, progress=None)
            options.update(bad)
            with self.assertRaises(ValueError):
                attend.train(self.path("bad-replicas"), **options)

    def test_train_on_python_pairs(self):
        pairs = [(f"{n} apples", "x" * (n % 5 + 1)) for n in range(60)]
        with attend.train(self.path("pairs"), pairs, pairs[:10], steps=20, batch=8,
                          eval_every=20, progress=None) as model:
            result = model.translate("7 apples")
            self.assertTrue(set(result.text) <= {"x"}, result.text)

    def test_bad_options_raise(self):
        out = self.path("bad")
        with self.assertRaises(attend.AttendError) as caught:
            attend.train(out, attention="nonsense", progress=None, **TINY)
        self.assertIn("multi-head", caught.exception.message)  # it lists the names
        with self.assertRaises(attend.AttendError):
            attend.train(out, [("a\tb", "c"), ("d", "e")], progress=None, steps=1)
        malformed = self.path("malformed.tsv")
        with open(malformed, "w", encoding="utf-8") as f:
            f.write("one\ttwo\nno tab here\n")
        with self.assertRaises(attend.AttendError) as caught:
            attend.train(out, malformed, progress=None, steps=1)
        self.assertIn("malformed.tsv:2", caught.exception.message)
        for bad in (dict(steps=-1), dict(steps=0), dict(batch=0), dict(lr=float("nan")),
                    dict(decoder="lstm")):
            options = dict(TINY, progress=None)
            options.update(bad)
            with self.assertRaises(ValueError):
                attend.train(out, **options)


class Maps(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="attend-maps-")
        weights = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
        self.map = attend.AttentionMap(weights, ["a", "b"], ["x", "y", "z"], title="t",
                                       model="m", mechanism="additive")

    def tearDown(self):
        self.dir.cleanup()

    def test_pictures(self):
        png = self.map._repr_png_()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        self.assertTrue(width > 100 and height > 100, (width, height))
        page = self.map._repr_html_()
        self.assertTrue(page.startswith("<iframe"), page[:80])
        self.assertIn("srcdoc=\"&lt;!DOCTYPE html&gt;", page)
        self.assertNotIn("<script", page)  # the page is escaped inside srcdoc
        for extension, magic in ((".svg", b"<?xml"), (".pdf", b"%PDF"),
                                 (".html", b"<!DOCTYPE html>")):
            path = os.path.join(self.dir.name, "map" + extension)
            self.map.save(path)
            with open(path, "rb") as f:
                self.assertEqual(f.read(len(magic)), magic, extension)

    def test_weights_file(self):
        path = os.path.join(self.dir.name, "map.json")
        self.map.save(path)
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        self.assertEqual((saved["format"], saved["heads"], saved["rows"], saved["cols"]),
                         ("attend-attention", 1, 2, 3))
        self.assertEqual((saved["row_labels"], saved["col_labels"]), (["a", "b"],
                                                                      ["x", "y", "z"]))
        assert_close("saved weights", np.array(saved["weights"][0]), self.map.weights[0], 1e-6)

    def test_compare(self):
        other = attend.AttentionMap(np.eye(2, 3, dtype=np.float32), ["a", "b"], ["x", "y", "z"],
                                    title="t", model="m2", mechanism="dot")
        both = attend.compare([self.map, other], title="two")
        self.assertEqual(both._repr_png_()[:8], b"\x89PNG\r\n\x1a\n")
        path = os.path.join(self.dir.name, "both.svg")
        both.save(path)
        with open(path, encoding="utf-8") as f:
            picture = f.read()
        self.assertIn("two", picture)
        for bad in ([], [self.map, "not a map"]):
            with self.assertRaises(ValueError):
                attend.compare(bad)

    def test_bad_maps_raise(self):
        for bad in (np.full((2, 3), np.nan), np.zeros(3), np.zeros((0, 3)),
                    np.zeros((65, 2, 2))):
            with self.assertRaises(ValueError):
                attend.AttentionMap(bad)
        with self.assertRaises(ValueError):
            attend.AttentionMap(np.zeros((2, 3)), rows=["only one"])
        with self.assertRaises(attend.AttendError) as caught:
            self.map.save(os.path.join(self.dir.name, "map.gif"))
        self.assertIn(".gif", caught.exception.message)
        with self.assertRaises(ValueError):
            self.map.render(".gif")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_models.py PATH/TO/attend")
    CLI = sys.argv.pop(1)
    unittest.main(verbosity=2)
