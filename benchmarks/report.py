#!/usr/bin/python3
"""Reads the outputs that scripts/bench collects and prints issue 5's targets as one table.

Inputs (files in the directory given as the argument):
  bench_ops.json     Google Benchmark's JSON (--benchmark_out) with repetitions: the medians
                     of BM_seed_network, BM_chain, BM_mlp_products and BM_fma_peak
  mlp_step.txt       benchmarks/mlp_step's output for 784-256-128-10 and 784-64-64-10: engine
                     (recorded every step and replayed) vs hand-written ms per step, heap
                     allocations and minor page faults per steady-state step
  instructions.txt   "instructions WORKLOAD N": callgrind's count of one iteration of
                     benchmarks/small_expressions (seed, seed_replay, seed_by_hand, chain, ...)
  train_mlp_recorded.txt  examples/train_mlp --record-every-step, same options
  mlp_step_blas.txt  the same from a build with AD_BLAS=ON (optional)
  train_mlp.txt      examples/train_mlp's output: "seconds per epoch: ..."
  train_mlp.time     /usr/bin/time -v of that run: "Maximum resident set size (kbytes): ..."
  torch.txt          benchmarks/torch_compare.py's output: the "torch_best" lines
  train_mlp_np2.txt  examples/train_mlp --distributed on 2 ranks (mpirun), same options
  train_mlp_threads2.txt  examples/train_mlp --threads 2, same options
  distributed_step_np1.txt, distributed_step_np2.txt
                     benchmarks/distributed_step on 1 and 2 ranks: ms per step by reduction,
                     the all-reduce's exposed time, MPI_Allreduce's time by size

Each row: what is measured, the figure, what it is compared with, the ratio, the goal and
whether it is met. A missing input makes its rows read "not measured" rather than fail.
"""

import json
import re
import sys
from pathlib import Path


def read(directory, name):
    path = directory / name
    return path.read_text() if path.exists() else ""


def parse_mlp_step(text):
    """{('f32', '256-128'): {'engine': ms, 'replayed': ms, 'hand': ms, 'allocations': n,
    'faults': n, 'replay_allocations': n, 'replay_faults': n}, ...}."""
    pattern = re.compile(
        r"mlp_step (f32|f64) 784-(\d+-\d+)-10: engine ([\d.]+) ms, hand-written ([\d.]+) ms.*?"
        r"replayed ([\d.]+) ms.*?([\d.]+) heap allocations, ([\d.]+) minor page faults; "
        r"replayed per step: ([\d.]+) heap allocations, ([\d.]+) minor page faults")
    return {(m[1], m[2]): {"engine": float(m[3]), "hand": float(m[4]), "replayed": float(m[5]),
                           "allocations": float(m[6]), "faults": float(m[7]),
                           "replay_allocations": float(m[8]), "replay_faults": float(m[9])}
            for m in pattern.finditer(text)}


def parse_instructions(text):
    """{'seed': n, 'seed_replay': n, ...}: instructions per iteration."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^instructions (\w+) (\d+)$", text, re.M)}


def parse_bench_ops(text):
    """Median CPU time of BM_seed_network in ns, BM_chain's ns per recorded op,
    BM_mlp_products' µs per kernel and FLOP rate, and BM_fma_peak's FLOP rate.

    CPU time rather than real time: both are single-threaded, and CPU time does not count
    the moments another process (a compiler, on this 2-core machine) held the core; it is
    also what Google Benchmark divides BM_chain's rate counter by.
    """
    if not text:
        return {}
    to_ns = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
    medians = {}
    for b in json.loads(text)["benchmarks"]:
        # With repetitions, use the median; without, the single run.
        if b.get("aggregate_name", "median") != "median":
            continue
        name = b["run_name"] if "run_name" in b else b["name"]
        if name in ("BM_seed_network", "BM_seed_network_replay", "BM_seed_network_by_hand"):
            medians[name[3:]] = b["cpu_time"] * to_ns[b["time_unit"]]
        elif name in ("BM_chain_replay", "BM_chain_by_hand"):
            medians[name[3:]] = b["ns_per_op"] * 1e9
        elif name in ("BM_chain/0", "BM_chain/1"):
            # /1 runs the same chain with the tape's non-finite checks on.
            key = "chain" if name.endswith("/0") else "chain_checked"
            medians[key] = b["ns_per_op"] * 1e9  # the counter is in seconds per op
        elif name.startswith("BM_mlp_products<"):
            # BM_mlp_products<float>/1: the packed kernel; /0: Eigen's GEMM.
            precision = "f32" if "<float>" in name else "f64"
            kernel = "packed" if name.endswith("/1") else "eigen"
            medians[("products", precision, kernel)] = b["cpu_time"] * to_ns[b["time_unit"]] / 1e3
            medians[("products_flops", precision, kernel)] = b.get("flops")
        elif name.startswith("BM_fma_peak<"):
            precision = "f32" if "<float>" in name else "f64"
            medians[("fma_peak", precision)] = b.get("flops")
    return medians


def parse_torch(text):
    """{('mlp_step', 'f32', 'ms'): (value, 'threads=1 coretype=unset'), ...} of the best."""
    best = {}
    for m in re.finditer(r"^torch_best (\S+) (\S+) (\S+) (\S+) (.*)$", text, re.M):
        best[(m[1], m[2], m[4])] = (float(m[3]), m[5].strip())
    return best


def parse_train(text, time_text):
    seconds = re.search(r"seconds per epoch: ([\d.]+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_text)
    accuracy = re.search(r"test accuracy: ([\d.]+)", text)
    return {"seconds": float(seconds[1]) if seconds else None,
            "rss": int(rss[1]) / 1024 if rss else None,
            "accuracy": float(accuracy[1]) if accuracy else None}


class Table:
    """Rows of the target table, printed as Markdown."""

    def __init__(self):
        self.rows = []

    def add(self, target, measured, reference, ratio, goal, met, unit=""):
        """met: True, False, or None for a row shown for information only."""
        def show(value):
            return "not measured" if value is None else f"{value:.4g}{unit}"

        if measured is None or (reference is None and ratio is None):
            status = "not measured"
        elif met is None:
            status = "(no target)"
        else:
            status = "met" if met else "**missed**"
        ratio_text = "" if ratio is None else f"{ratio:.3f}" if ratio < 10 else f"{ratio:.0f}"
        reference_text = reference if isinstance(reference, str) else show(reference)
        self.rows.append((target, show(measured), reference_text, ratio_text, goal, status))

    def print(self):
        header = ("target", "measured", "compared with", "ratio", "goal", "status")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


def ratio(a, b):
    return None if a is None or b is None else a / b


def mlp_rows(table, steps, torch, backend):
    for precision in ("f32", "f64"):
        step = steps.get((precision, "256-128"), {})
        engine, hand = step.get("engine"), step.get("hand")
        r = ratio(engine, hand)
        table.add(f"MLP step {precision} ({backend}), engine vs hand-written", engine,
                  None if hand is None else f"{hand:.4g} ms hand-written", r, "≤ 1.05",
                  r is not None and r <= 1.05, " ms")
        best = torch.get(("mlp_step", precision, "ms"))
        r = ratio(engine, best and best[0])
        table.add(f"MLP step {precision} ({backend}), engine vs PyTorch best", engine,
                  best and f"{best[0]:.4g} ms PyTorch ({best[1]})", r, "≤ 0.75",
                  r is not None and r <= 0.75, " ms")


def replay_rows(table, steps, ops, instructions, train, train_recorded):
    """Issue 15's targets: replay against the hand-written floor, in time and instructions."""
    seed = ops.get("seed_network_replay")
    hand = ops.get("seed_network_by_hand")
    table.add("seed-network gradient replayed (f64)", seed,
              hand and f"{hand:.4g} ns by hand", ratio(seed, hand), "≤ 60 ns",
              seed is not None and seed <= 60, " ns")
    for workload, goal in (("seed_replay", 1000), ("seed", 2000)):
        count, floor = instructions.get(workload), instructions.get("seed_by_hand")
        table.add(f"seed-network gradient {'replayed' if workload == 'seed_replay' else 'recorded'}"
                  ", instructions", count, floor and f"{floor} by hand", ratio(count, floor),
                  f"≤ {goal:,}", count is not None and count <= goal)
    chain, hand = ops.get("chain_replay"), ops.get("chain_by_hand")
    r = ratio(chain, hand)
    table.add("chain x ← σ(A x) replayed, per op (f64)", chain,
              hand and f"{hand:.4g} ns by hand", r, "≤ 1.15×", r is not None and r <= 1.15, " ns")
    chain, hand = instructions.get("chain_replay"), instructions.get("chain_by_hand")
    r = ratio(chain, hand)
    table.add("chain replayed, instructions per 1000 ops", chain, hand and f"{hand} by hand", r,
              "≤ 1.15×", r is not None and r <= 1.15)
    for sizes in ("256-128", "64-64"):
        for precision in ("f32", "f64"):
            step = steps.get((precision, sizes), {})
            replayed, hand = step.get("replayed"), step.get("hand")
            r = ratio(replayed, hand)
            table.add(f"MLP step 784-{sizes}-10 {precision} replayed vs hand-written", replayed,
                      hand and f"{hand:.4g} ms hand-written", r, "≤ 1.02",
                      r is not None and r <= 1.02, " ms")
    after, before = train["seconds"], train_recorded["seconds"]
    table.add("Fashion-MNIST seconds per epoch, replayed (fit's default)", after,
              before and f"{before:.4g} s recording every step", ratio(after, before),
              "before and after", None, " s")


def parse_distributed(text):
    """{'after_backward': {'step': ms, 'sweep': ms, 'exposed': ms}, 'overlapped': ...}."""
    pattern = re.compile(r"distributed_step ranks \d+ (\w+): step ([\d.]+) ms, sweep ([\d.]+) ms, "
                         r"reduction exposed ([\d.]+) ms")
    return {m[1]: {"step": float(m[2]), "sweep": float(m[3]), "exposed": float(m[4])}
            for m in pattern.finditer(text)}


def distributed_rows(table, train, train_np2, train_threads2, steps_np1, steps_np2):
    one, two, threads = train["seconds"], train_np2["seconds"], train_threads2["seconds"]
    for name, seconds in (("2 ranks", two), ("2 threads", threads)):
        speedup = ratio(one, seconds)
        table.add(f"Fashion-MNIST epoch, {name} (global batch 128)", seconds,
                  one and f"{one:.4g} s one process", speedup, "throughput ≥ 1.7×",
                  speedup is not None and speedup >= 1.7, " s")
    for name, seconds in (("1 rank", one), ("2 ranks", two), ("2 threads", threads)):
        table.add(f"Fashion-MNIST samples/s, {name}", seconds and 60000 / seconds, "", None, "",
                  None)
    if train["accuracy"] is not None and train_np2["accuracy"] is not None:
        table.add("test accuracy, 2 ranks", train_np2["accuracy"],
                  f"{train['accuracy']:.4f} one process", None, "same within noise", None)
    alone = steps_np1.get("after_backward", {}).get("step")
    for reduction in ("after_backward", "overlapped", "shared_memory"):
        step = steps_np2.get(reduction, {}).get("step")
        table.add(f"MLP step f32 at 2 ranks (batch 64 each), {reduction}", step,
                  alone and f"{alone:.4g} ms one rank, batch 128", ratio(alone, step), "", None,
                  " ms")
    whole = steps_np2.get("after_backward", {}).get("exposed")
    exposed = steps_np2.get("overlapped", {}).get("exposed")
    table.add("all-reduce per step after backward (2 ranks)", whole, "", None, "", None, " ms")
    hidden = None if whole is None or exposed is None else 1 - exposed / whole
    table.add("all-reduce exposed when overlapped with the sweep", exposed,
              whole and f"{whole:.4g} ms after backward", hidden, "fraction hidden",
              None, " ms")


def main():
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    steps = parse_mlp_step(read(directory, "mlp_step.txt"))
    blas_steps = parse_mlp_step(read(directory, "mlp_step_blas.txt"))
    ops = parse_bench_ops(read(directory, "bench_ops.json"))
    instructions = parse_instructions(read(directory, "instructions.txt"))
    torch = parse_torch(read(directory, "torch.txt"))
    train = parse_train(read(directory, "train_mlp.txt"), read(directory, "train_mlp.time"))

    table = Table()
    mlp_rows(table, steps, torch, "packed kernel")
    if blas_steps:
        mlp_rows(table, blas_steps, torch, "OpenBLAS")
    for precision in ("f32", "f64"):
        packed = ops.get(("products", precision, "packed"))
        eigen = ops.get(("products", precision, "eigen"))
        table.add(f"MLP step's 5 large products {precision}, packed kernel vs Eigen's GEMM", packed,
                  eigen and f"{eigen:.4g} µs Eigen's GEMM", ratio(packed, eigen), "", None, " µs")
    # How close the packed kernel runs to the core's multiply-add ceiling (BM_fma_peak).
    for precision in ("f32", "f64"):
        flops = ops.get(("products_flops", precision, "packed"))
        peak = ops.get(("fma_peak", precision))
        table.add(f"same products {precision}, GFLOP/s vs the core's multiply-add peak",
                  flops and flops / 1e9, peak and f"{peak / 1e9:.4g} GFLOP/s peak",
                  ratio(flops, peak), "", None, " GFLOP/s")

    seed = ops.get("seed_network")
    table.add("seed-network gradient (f64)", seed, "150 ns", ratio(seed, 150), "≤ 150 ns",
              seed is not None and seed <= 150, " ns")
    torch_seed = torch.get(("seed_network", "f64", "us"))
    speedup = ratio(torch_seed and torch_seed[0] * 1e3, seed)
    table.add("seed-network gradient, PyTorch best / engine", seed,
              torch_seed and f"{torch_seed[0]:.4g} µs PyTorch ({torch_seed[1]})", speedup,
              "≥ 200× faster", speedup is not None and speedup >= 200, " ns")
    chain = ops.get("chain")
    table.add("chain x ← σ(A x), per recorded op (f64)", chain, "25 ns", ratio(chain, 25),
              "≤ 25 ns", chain is not None and chain <= 25, " ns")
    torch_chain = torch.get(("chain", "f64", "ns_per_op"))
    speedup = ratio(torch_chain and torch_chain[0], chain)
    table.add("chain, PyTorch best / engine", chain,
              torch_chain and f"{torch_chain[0]:.0f} ns PyTorch ({torch_chain[1]})", speedup,
              "", None, " ns")
    checked = ops.get("chain_checked")
    table.add("chain with tape.check_finite(true), per recorded op", checked,
              chain and f"{chain:.4g} ns unchecked", ratio(checked, chain), "", None, " ns")

    for precision in ("f32", "f64"):
        step = steps.get((precision, "256-128"), {})
        for mode, prefix in (("recorded", ""), ("replayed", "replay_")):
            allocations, faults = step.get(prefix + "allocations"), step.get(prefix + "faults")
            table.add(f"heap allocations per steady-state step ({precision}, {mode})",
                      allocations, "0", None, "0", allocations is not None and allocations == 0)
            table.add(f"minor page faults per steady-state step ({precision}, {mode})", faults,
                      "0", None, "0", faults is not None and faults == 0)

    torch_epoch = torch.get(("fashion_mnist", "f32", "s_per_epoch"))
    r = ratio(train["seconds"], torch_epoch and torch_epoch[0])
    table.add("Fashion-MNIST seconds per epoch vs PyTorch best", train["seconds"],
              torch_epoch and f"{torch_epoch[0]:.4g} s PyTorch ({torch_epoch[1]})", r, "≤ 0.7",
              r is not None and r <= 0.7, " s")
    torch_rss = torch.get(("fashion_mnist", "f32", "MiB_peak_rss"))
    r = ratio(train["rss"], torch_rss and torch_rss[0])
    table.add("Fashion-MNIST peak RSS vs PyTorch", train["rss"],
              torch_rss and f"{torch_rss[0]:.4g} MiB PyTorch", r, "≤ 1",
              r is not None and r <= 1, " MiB")
    replay_rows(table, steps, ops, instructions, train,
                parse_train(read(directory, "train_mlp_recorded.txt"), ""))
    distributed_rows(table, train,
                     parse_train(read(directory, "train_mlp_np2.txt"), ""),
                     parse_train(read(directory, "train_mlp_threads2.txt"), ""),
                     parse_distributed(read(directory, "distributed_step_np1.txt")),
                     parse_distributed(read(directory, "distributed_step_np2.txt")))
    table.print()

    torch_accuracy = torch.get(("fashion_mnist", "f32", "test_accuracy"))
    if train["accuracy"] is not None and torch_accuracy:
        print(f"\nFashion-MNIST test accuracy after the timing run: engine "
              f"{train['accuracy']:.4f}, PyTorch {torch_accuracy[0]:.4f} "
              f"(short runs: accuracy is not a target here)")


if __name__ == "__main__":
    main()
