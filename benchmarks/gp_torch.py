#!/usr/bin/python3
"""The Gaussian process LML gradient of benchmarks/gp_lml.cpp in PyTorch, and the ratios.

    gp_torch.py GP_LML_OUTPUT [--reps N]

Times the same value and gradient (float64, as the engine's side: K from the squared
distances, torch.linalg.cholesky, torch.cholesky_solve, the log-diagonal sum, backward to θ)
for n = 442 and 2000 at every thread count from 1 to the number of cores, keeps the best
median, and prints the rows of scripts/bench's table with the engine's figures read from
gp_lml's output (lines `key value`). PyTorch is only a point of comparison.
"""

import math
import os
import sys
import time

import torch


def lml_and_gradient(theta0, d, y):
    theta = theta0.clone().requires_grad_(True)
    n = y.shape[0]
    signal, noise = torch.exp(theta[0]), torch.exp(theta[2])
    k = signal * torch.exp(-d * (0.5 * torch.exp(-2 * theta[1]))) + noise * torch.eye(
        n, dtype=d.dtype)
    l = torch.linalg.cholesky(k)
    alpha = torch.cholesky_solve(y, l)
    lml = -0.5 * (y * alpha).sum() - torch.log(torch.diagonal(l)).sum() - 0.5 * n * math.log(
        2 * math.pi)
    lml.backward()
    return lml.item(), theta.grad


def median_ms(n, threads, reps):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(42)
    x = torch.rand(n, 10, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.rand(n, 1, generator=g, dtype=torch.float64) * 2 - 1
    d = torch.cdist(x, x).square()
    theta = torch.tensor([0.2, 0.5, -1.0], dtype=torch.float64)
    lml_and_gradient(theta, d, y)  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        lml_and_gradient(theta, d, y)
        times.append(time.perf_counter() - t0)
    times.sort()
    return 1e3 * times[len(times) // 2]


def main():
    engine = {}
    with open(sys.argv[1]) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                key, value = line.split()
                engine[key] = float(value)
    reps = int(sys.argv[3]) if len(sys.argv) == 4 and sys.argv[2] == "--reps" else 7
    cores = os.cpu_count() or 1
    print(f"PyTorch {torch.__version__}, float64, threads 1..{cores}")
    rows = []
    for n, r in ((442, 4 * reps), (2000, reps)):
        best = min((median_ms(n, t, r), t) for t in range(1, cores + 1))
        ours, by_hand = engine[f"gp_engine_ms_{n}"], engine[f"gp_eigen_ms_{n}"]
        print(f"n = {n}: PyTorch {best[0]:.2f} ms ({best[1]} threads), engine {ours:.2f} ms, "
              f"Eigen by hand {by_hand:.2f} ms")
        rows.append((f"GP LML gradient, n = {n}: engine / Eigen LLT by hand", ours / by_hand,
                     "≤ 1.2"))
        rows.append((f"GP LML gradient, n = {n}: engine / PyTorch (best of 1..{cores} threads)",
                     ours / best[0], "≤ 0.8"))
    forward, adjoint = engine["cholesky_forward_ms_1000"], engine["cholesky_adjoint_ms_1000"]
    rows.append(("cholesky adjoint / forward factorisation, n = 1000", adjoint / forward,
                 "report (Stan, PyTorch: 2–4)"))
    print()
    print("| figure | measured | target | met |")
    print("|---|---|---|---|")
    for name, ratio, target in rows:
        met = "yes" if not target.startswith("≤") or ratio <= float(target[2:]) else "no"
        if target.startswith("report"):
            met = "—"
        print(f"| {name} | {ratio:.2f} | {target} | {met} |")


if __name__ == "__main__":
    main()
