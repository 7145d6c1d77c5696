#!/usr/bin/python3
"""The α-β model of ring all-reduce in docs/distributed.md, calibrated on this machine.

    benchmarks/allreduce_model.py distributed_step_np1.txt distributed_step_np2.txt [--compute-ms X]

Reads benchmarks/distributed_step's output on 1 rank (the step's compute time, batch 128)
and on 2 ranks (MPI_Allreduce's time by size), fits

    T(P, N) = 2 (P − 1) α + 2 (P − 1) / P · N β      (ring all-reduce of N bytes, P ranks)

to the loopback times (P = 2: T = 2α + Nβ; α from the small messages, β from the slope over
the large ones), then predicts one data-parallel step at 8, 64 and 256 ranks on an assumed
cluster interconnect, for the 235k-parameter MLP and a 10M-parameter one, with each rank
keeping a batch of 128 (the global batch grows with the ranks). --compute-ms replaces the
measured 1-rank step (for one measured on an idle machine).
"""

import re
import statistics
import sys

# A typical cluster interconnect (assumed, not measured): 100 Gb/s InfiniBand or RoCE,
# 2 µs from one MPI process to another across the fabric, 10 GB/s achieved per link.
CLUSTER_ALPHA = 2e-6      # s per message
CLUSTER_BETA = 1 / 10e9   # s per byte

MODELS = {
    # name: (parameters, step compute seconds at batch 128 or None: measured)
    "784-256-128-10 (235,146 parameters)": (235146, None),
    # 784-2048-2048-2048-10: 10,022,874 parameters; its step's products do 6 · params · batch
    # multiply-adds as the small one's do, so its compute is scaled by the parameter ratio.
    "784-2048-2048-2048-10 (10,022,874 parameters)": (10022874, "scaled"),
}
BYTES_PER_PARAMETER = 4  # float gradients


def parse(path):
    text = open(path).read()
    steps = {m[1]: float(m[2]) / 1e3 for m in re.finditer(
        r"distributed_step ranks \d+ (\w+): step ([\d.]+) ms", text)}
    sizes = [(int(m[1]), float(m[2])) for m in re.finditer(
        r"allreduce ranks \d+ bytes (\d+) seconds ([\d.e+-]+)", text)]
    return steps, sizes


def ring(p, n, alpha, beta):
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * n * beta


def main():
    one, _ = parse(sys.argv[1])
    _, sizes = parse(sys.argv[2])
    small = [t for n, t in sizes if n <= 1024]
    large = sorted((n, t) for n, t in sizes if n >= (1 << 20))
    alpha = statistics.median(small) / 2
    # Least-squares slope of T against N over the large messages.
    mean_n = statistics.mean(n for n, _ in large)
    mean_t = statistics.mean(t for _, t in large)
    beta = (sum((n - mean_n) * (t - mean_t) for n, t in large) /
            sum((n - mean_n) ** 2 for n, _ in large))
    print(f"loopback (2 ranks): alpha {alpha * 1e6:.3f} us, beta {beta * 1e9:.4f} ns/B "
          f"({1 / beta / 1e9:.2f} GB/s)")
    print(f"cluster (assumed): alpha {CLUSTER_ALPHA * 1e6:.1f} us, beta "
          f"{CLUSTER_BETA * 1e9:.2f} ns/B ({1 / CLUSTER_BETA / 1e9:.0f} GB/s)")
    compute_small = one.get("after_backward")
    if "--compute-ms" in sys.argv:
        compute_small = float(sys.argv[sys.argv.index("--compute-ms") + 1]) / 1e3
    print(f"measured step, 1 rank, batch 128: {compute_small * 1e3:.3f} ms\n")
    print("| model | ranks | all-reduce, loopback | all-reduce, cluster | step compute | "
          "samples/s | efficiency |")
    print("|---|---|---|---|---|---|---|")
    for name, (parameters, compute) in MODELS.items():
        t_c = compute_small if compute is None else compute_small * parameters / 235146
        n = parameters * BYTES_PER_PARAMETER
        for p in (8, 64, 256):
            local = ring(p, n, alpha, beta)
            cluster = ring(p, n, CLUSTER_ALPHA, CLUSTER_BETA)
            step = t_c + cluster  # no overlap: an upper bound on the step
            print(f"| {name} | {p} | {local * 1e3:.3f} ms | {cluster * 1e3:.3f} ms | "
                  f"{t_c * 1e3:.2f} ms | {p * 128 / step:,.0f} | {t_c / step:.2f} |")


if __name__ == "__main__":
    main()
