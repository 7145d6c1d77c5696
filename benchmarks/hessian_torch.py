#!/usr/bin/python3
"""The 50-parameter Hessian of benchmarks/hessian_cost.cpp in PyTorch, and the table's rows.

    hessian_torch.py HESSIAN_COST_OUTPUT [--reps N]

Times torch.autograd.functional.hessian of the same function (float64: ½‖w‖² plus the
logistic loss of 200 samples, 50 parameters) with vectorize=False and True, at every thread
count from 1 to the number of cores, keeps the best median, and prints the rows of
scripts/bench's table for second derivatives with the engine's figures read from
hessian_cost's output (lines `key value`). PyTorch is only a point of comparison.
"""

import os
import sys
import time

import torch


def hessian_ms(vectorize, threads, reps):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(5)
    x = torch.rand(200, 50, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.tensor([1.0 if i % 2 else -1.0 for i in range(200)], dtype=torch.float64)
    w = torch.rand(50, generator=g, dtype=torch.float64) * 0.2 - 0.1

    def f(v):
        return 0.5 * (v * v).sum() + torch.nn.functional.softplus(-y * (x @ v)).sum()

    torch.autograd.functional.hessian(f, w, vectorize=vectorize)  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.autograd.functional.hessian(f, w, vectorize=vectorize)
        times.append(time.perf_counter() - t0)
    times.sort()
    return 1e3 * times[len(times) // 2]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    reps = int(sys.argv[3]) if len(sys.argv) == 4 and sys.argv[2] == "--reps" else 21
    ours = {}
    with open(sys.argv[1]) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            key, value = line.split()
            ours[key] = float(value)
    best = None
    for vectorize in (False, True):
        for threads in range(1, (os.cpu_count() or 1) + 1):
            ms = hessian_ms(vectorize, threads, reps)
            print(f"# torch hessian, vectorize={vectorize}, {threads} threads: {ms:.3f} ms")
            if best is None or ms < best[0]:
                best = (ms, vectorize, threads)
    print("| target | engine | reference | ratio | met |")
    print("|---|---|---|---|---|")
    for key, name in (("seed", "seed network"), ("chain", "1000-op chain"),
                      ("mlp", "MLP 784-256-128-10, batch 128")):
        for hvp_key, gradient_key, how in (("hvp", "gradient", "reused tapes"),
                                           ("hvp_call", "gradient",
                                            "ad::hvp against a gradient on a reused tape"),
                                           ("hvp_call", "gradient_fresh",
                                            "ad::hvp against a gradient on a fresh tape")):
            gradient, hvp = ours[f"{key}_{gradient_key}_us"], ours[f"{key}_{hvp_key}_us"]
            ratio = hvp / gradient
            print(f"| hvp ≤ 4× gradient, {name} ({how}) | {hvp:.1f} µs | {gradient:.1f} µs | "
                  f"{ratio:.2f} | {'yes' if ratio <= 4 else 'no'} |")
    ms, vectorize, threads = best
    ratio = ours["hessian50_ms"] / ms
    print(f"| Hessian of 50 parameters faster than torch.autograd.functional.hessian | "
          f"{ours['hessian50_ms']:.3f} ms | {ms:.3f} ms (vectorize={vectorize}, {threads} "
          f"threads) | {ratio:.2f} | {'yes' if ratio < 1 else 'no'} |")


if __name__ == "__main__":
    main()
