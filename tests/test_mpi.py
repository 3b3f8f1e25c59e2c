#!/usr/bin/python3
"""test_mpi.py - data-parallel training over MPI, end to end with mpirun.

    tests/test_mpi.py PATH/TO/attend [PATH/TO/mpirun]

Two processes on this machine (--allow-run-as-root --oversubscribe: CI runs
as root on two cores), tiny models, tens of steps:
  - same work, same numbers: 2 processes with batch 16 (8 each) against one
    with batch 16, 20 steps, dropout off, for the date translator, a
    classifier, a language model and G2P: every parameter tensor within
    1e-5 of its largest magnitude (see close() for why that holds), the
    validation metrics equal (counts) or within 1e-9 (summed losses); and
    one process with batch 8 (rank 0's slice alone) differs, so both slices
    count;
  - rank 0 alone speaks: the run's report appears once;
  - determinism: the 2-process run repeated gives identical bytes;
  - the network path: --mca btl tcp,self (TCP on 127.0.0.1, no shared
    memory) gives the same bytes again;
  - a batch that is not a multiple of the processes is refused, clearly;
  - faults: rank 1 killed (SIGKILL) mid-run; the job ends within 30 s with
    mpirun's message naming rank 1; last.safetensors loads (attend eval);
  - resume: with 2 processes, the same bytes as the unbroken run; with 1
    or 4, refused with a message saying why.
Fails loudly: the first mismatches, the largest error, exit 1.
"""
import array
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

ATTEND = os.path.abspath(sys.argv[1])
MPIRUN = sys.argv[2] if len(sys.argv) > 2 else shutil.which("mpirun")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = tempfile.mkdtemp(prefix="attend-mpi-")
FAILURES = []
TOLERANCE = 1e-5

DATES = ["train", "--data", "dates", "--train-size", "2000", "--valid-size", "200",
         "--embed", "8", "--encoder", "16", "--decoder-size", "32", "--attn-size", "16",
         "--threads", "1"]


def fail(message):
    print("FAIL: " + message, flush=True)
    FAILURES.append(message)


def attend(args, ranks=None, mca=None, timeout=300):
    """Run attend (under mpirun when ranks is given); the CompletedProcess."""
    command = [ATTEND] + args
    if ranks is not None:
        command = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", str(ranks)] + \
            (mca or []) + command
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=WORK)


def trained(name, args, ranks=None, mca=None):
    """Train into WORK/name; 1 if it succeeded (else says why)."""
    out = os.path.join(WORK, name)
    r = attend(args + ["--out", out], ranks, mca)
    if r.returncode != 0:
        fail(f"{name}: exit {r.returncode}: {r.stderr[-2000:]}")
        return None
    return r


def load(path):
    """The tensors (name -> array of floats) and metadata of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        tensors[name] = array.array("f", data[8 + n + start:8 + n + end])
    return tensors, header.get("__metadata__", {})


NOISE = 1e-6


def close(what, one, two):
    """Every element of every parameter tensor p of the two checkpoints:
    |p1 - p2| <= TOLERANCE * max |p1| (the tensor's scale). Why it holds:
    both runs compute the gradient of the same batch's mean loss; two
    processes sum their halves (each weighted 1/2, exact in float) where one
    sums the whole batch, so the gradients differ by float rounding (~1e-7
    relative), and 20 Adam steps of at most about lr each move the weights
    apart by a few float steps of their tensor's scale (1e-6 of it at most
    here). Relative to each element the bound would not hold: an element
    near zero (a bias at 1e-5 after 20 steps from zero) differs by 1e-5 of
    itself. One exception, said here: elements below NOISE in both runs
    are noise, not learning - a gradient that is zero in exact arithmetic
    (the key bias of softmax attention: a constant added to every score
    changes nothing) is rounding noise that Adam's normalisation turns into
    steps, in one process as in two; they must stay below NOISE."""
    a, _ = load(one)
    b, _ = load(two)
    if sorted(a) != sorted(b):
        fail(f"{what}: different tensors {sorted(a)} vs {sorted(b)}")
        return None
    worst, worst_name, shown = 0.0, "", 0
    for name in sorted(a):
        scale = max(abs(x) for x in a[name]) or 1.0
        for i, (x, y) in enumerate(zip(a[name], b[name])):
            if abs(x) < NOISE and abs(y) < NOISE:
                continue
            ratio = abs(x - y) / scale
            if ratio > worst:
                worst, worst_name = ratio, f"{name}[{i}]: {x!r} vs {y!r}"
            if ratio > TOLERANCE and shown < 5:
                fail(f"{what}: {name}[{i}] {x!r} vs {y!r} (|d| = {ratio:.3g} of the tensor's "
                     f"largest {scale:.3g})")
                shown += 1
    print(f"{what}: largest difference {worst:.3g} of its tensor's scale ({worst_name})")
    return worst


def metrics(run):
    """metrics.jsonl without the timings (which no rerun reproduces)."""
    lines = []
    with open(os.path.join(WORK, run, "metrics.jsonl")) as f:
        for line in f:
            m = json.loads(line)
            m.pop("seconds", None)
            m.pop("examples_per_second", None)
            lines.append(m)
    return lines


def validations(run):
    return [{k: v for k, v in m.items() if k.startswith("valid_")}
            for m in metrics(run) if any(k.startswith("valid_") for k in m)]


def same_validations(what, one, two, relative):
    a, b = validations(one), validations(two)
    if not a or len(a) != len(b):
        fail(f"{what}: validations {a} vs {b}")
        return
    for x, y in zip(a, b):
        for k in x:
            if abs(x[k] - y.get(k, float("nan"))) > relative * abs(x[k]):
                fail(f"{what}: {k} {x[k]} (one process) vs {y.get(k)} (two)")
    print(f"{what}: validation {a[-1]} (one) vs {b[-1]} (two)")


FILES = ["last.safetensors", "last.optim.safetensors", "model.safetensors"]


def same_bytes(what, one, two):
    for name in FILES:
        with open(os.path.join(WORK, one, name), "rb") as f, \
                open(os.path.join(WORK, two, name), "rb") as g:
            if f.read() != g.read():
                fail(f"{what}: {one}/{name} and {two}/{name} differ")
    if metrics(one) != metrics(two):
        fail(f"{what}: {one}/metrics.jsonl and {two}/metrics.jsonl differ (timings aside)")


def same_numbers(what, args, ranks_args=None):
    """one process, batch 16 vs two processes, batch 16 (8 each) vs one, batch 8."""
    one, two, half = what + "-one", what + "-two", what + "-half"
    r1 = trained(one, args)
    r2 = trained(two, args + (ranks_args or []), ranks=2)
    r3 = trained(half, [a if a != "16" or args[i - 1] != "--batch" else "8"
                        for i, a in enumerate(args)])
    if not (r1 and r2 and r3):
        return None
    worst = close(what + ": 2 processes vs 1", os.path.join(WORK, one, "last.safetensors"),
                  os.path.join(WORK, two, "last.safetensors"))
    a, _ = load(os.path.join(WORK, half, "last.safetensors"))
    b, _ = load(os.path.join(WORK, two, "last.safetensors"))
    apart = max(abs(x - y) for name in a for x, y in zip(a[name], b[name]))
    if apart < 1e-4:
        fail(f"{what}: 2 processes match rank 0's slice alone (largest difference {apart:.3g}): "
             "rank 1's gradients are not summed in")
    return r2, worst


# ------------------------------------------------------------ same numbers
def test_dates():
    args = DATES + ["--steps", "20", "--batch", "16", "--eval-every", "10"]
    got = same_numbers("dates", args)
    if not got:
        return
    r2, _ = got
    same_validations("dates", "dates-one", "dates-two", 0.0)
    if r2.stderr.count("trained to step 20") != 1 or r2.stderr.count("model: luong") != 1:
        fail("dates: the 2-process run should report once (rank 0), got:\n" + r2.stderr[-2000:])
    if r2.stdout.strip():
        fail("dates: the 2-process run printed on stdout: " + r2.stdout[:500])
    # determinism, and the same bytes over TCP
    if trained("dates-again", args, ranks=2):
        same_bytes("dates: repeated", "dates-two", "dates-again")
    if trained("dates-tcp", args, ranks=2, mca=["--mca", "btl", "tcp,self"]):
        same_bytes("dates: over TCP", "dates-two", "dates-tcp")


def test_refused_batch():
    r = attend(DATES + ["--steps", "5", "--batch", "15", "--out", os.path.join(WORK, "odd")],
               ranks=2, timeout=60)
    if r.returncode == 0 or "must be a multiple of the 2 processes" not in r.stderr:
        fail(f"batch 15 on 2 processes: exit {r.returncode}, {r.stderr[-1500:]}")


def test_classify():
    lines = []
    for i in range(240):
        pos = i % 2
        said = "claim your refund now" if pos else "claim your seat early"
        lines.append(f"{'pos' if pos else 'neg'}\tthe meeting is at noon. {said}. "
                     f"see you on day {i % 7}.\n")
    for name, part in (("train.tsv", lines[:160]), ("dev.tsv", lines[160:])):  # 10 batches
        with open(os.path.join(WORK, name), "w") as f:
            f.writelines(part)
    args = ["classify", "train", "--train", os.path.join(WORK, "train.tsv"), "--dev",
            os.path.join(WORK, "dev.tsv"), "--threads", "1", "--embed", "8", "--hidden", "4",
            "--attn", "8", "--min-count", "1", "--batch", "16", "--epochs", "2",
            "--dropout", "0"]
    if same_numbers("classify", args):
        same_validations("classify", "classify-one", "classify-two", 1e-9)


def test_lm():
    with open(os.path.join(WORK, "book.txt"), "w") as f:
        for i in range(60):
            f.write(f"the whale swam east at dawn; the ship sailed west at dusk. call me {i}.\n")
    args = ["lm", "train", "--data", os.path.join(WORK, "book.txt"), "--threads", "1",
            "--context", "16", "--layers", "1", "--heads", "2", "--width", "16", "--batch",
            "16", "--steps", "20", "--eval-every", "10"]
    if same_numbers("lm", args):
        same_validations("lm", "lm-one", "lm-two", 1e-9)


def test_g2p():
    dictionary = os.environ.get("ATTEND_CMUDICT") or subprocess.run(
        [os.path.join(ROOT, "scripts", "data.sh"), "cmudict"], capture_output=True, text=True,
        check=True).stdout.strip()
    test = os.path.join(WORK, "g2p-test.tsv")
    with open(dictionary, encoding="latin-1") as f, open(test, "w") as out:
        for n, line in enumerate(f, 1):
            word, *phones = line.split()
            if n % 40 == 0 and word.isalpha() and word.isupper():
                out.write(word + "\t" + " ".join(p.rstrip("012") for p in phones) + "\n")
    args = ["g2p", "train", "--dict", dictionary, "--test", test, "--train-size", "2000",
            "--valid-size", "200", "--embed", "8", "--encoder", "16", "--decoder-size", "32",
            "--attn-size", "16", "--batch", "16", "--steps", "20", "--eval-every", "10",
            "--threads", "1", "--dropout", "0"]
    if same_numbers("g2p", args):
        same_validations("g2p", "g2p-one", "g2p-two", 0.0)


# ----------------------------------------------------------- faults, resume
def step_of(path):
    try:
        return int(load(path)[1].get("train.step", "-1"))
    except (OSError, ValueError, struct.error):
        return -1  # not there yet, or being replaced


def rank_pid(parent, rank):
    """The pid of the child of `parent` that MPI started as `rank`."""
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != parent:
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"OMPI_COMM_WORLD_RANK={rank}".encode() in f.read().split(b"\0"):
                    return int(pid)
        except (OSError, ValueError, IndexError):
            continue
    return None


def test_fault_and_resume():
    """With dropout on (2 encoder layers): each process draws its slice's
    masks, and a resumed run must draw the ones the unbroken run drew."""
    args = DATES + ["--steps", "1000", "--batch", "16", "--eval-every", "500",
                    "--save-every", "20", "--encoder-layers", "2", "--dropout", "0.3"]
    if not trained("unbroken", args, ranks=2):
        return
    out = os.path.join(WORK, "broken")
    job = subprocess.Popen([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "2",
                            ATTEND] + args + ["--out", out], cwd=WORK,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = os.path.join(out, "last.safetensors")
    deadline = time.time() + 120
    while step_of(last) < 100 and job.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    victim = rank_pid(job.pid, 1)
    if victim is None or job.poll() is not None:
        job.kill()
        fail(f"faults: could not kill rank 1 mid-run (pid {victim}, exit {job.poll()})")
        return
    os.kill(victim, signal.SIGKILL)
    killed = time.time()
    try:
        _, err = job.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        job.kill()
        fail("faults: rank 1 killed, but the job did not end within 30 s (a hang)")
        return
    print(f"faults: rank 1 killed at step >= 100; the job ended {time.time() - killed:.1f} s "
          f"later, exit {job.returncode}")
    if job.returncode == 0 or "rank 1" not in err or "signal 9" not in err:
        fail(f"faults: exit {job.returncode}, no message naming rank 1 and signal 9:\n{err[-1500:]}")
    stopped = step_of(last)
    if not 100 <= stopped < 1000:
        fail(f"faults: last.safetensors is at step {stopped}, not mid-run")
        return
    r = attend(["eval", last, "--dates", "50"])
    if r.returncode != 0 or "exact" not in r.stdout:
        fail(f"faults: the last checkpoint does not load: {r.stderr[-1000:]}")
    # another number of processes is refused, and says why
    r = attend(args + ["--out", out, "--resume"], timeout=60)
    if r.returncode == 0 or "trained by 2 processes, now 1" not in r.stderr:
        fail(f"resume with 1 process: exit {r.returncode}: {r.stderr[-1500:]}")
    r = attend(args + ["--out", out, "--resume"], ranks=4, timeout=120)
    if r.returncode == 0 or "trained by 2 processes, now 4" not in r.stderr:
        fail(f"resume with 4 processes: exit {r.returncode}: {r.stderr[-1500:]}")
    if step_of(last) != stopped:
        fail("a refused resume changed last.safetensors")
    # the same number: the bytes of the unbroken run
    if trained("broken", args + ["--resume"], ranks=2):
        same_bytes(f"resumed at step {stopped}", "unbroken", "broken")


def main():
    if not MPIRUN:
        fail("no mpirun (scripts/setup.sh installs openmpi-bin)")
    else:
        for test in (test_dates, test_refused_batch, test_classify, test_lm, test_g2p,
                     test_fault_and_resume):
            started = time.time()
            test()
            print(f"{test.__name__}: {time.time() - started:.1f} s", flush=True)
    shutil.rmtree(WORK, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all MPI checks passed")


if __name__ == "__main__":
    main()
