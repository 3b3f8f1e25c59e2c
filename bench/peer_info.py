"""peer_info.py - how the PyTorch peer ran, for every benchmark's result
line (bench/g2p_bench.py, bench/lm_bench.py): torch's version and the
settings peer_env.sh tunes (OpenBLAS's kernels and threads, jemalloc)."""
import os


def environment():
    import torch  # as late as the scripts import it: bad input fails first

    return {
        "torch": torch.__version__,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "jemalloc": "jemalloc" in os.environ.get("LD_PRELOAD", ""),
    }
