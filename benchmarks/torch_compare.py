#!/usr/bin/python3
"""PyTorch on the workloads of issue 5, each in its fastest thread and OpenBLAS setting.

Workloads (the same as benchmarks/mlp_step.cpp, bench_ops.cpp and examples/train_mlp.cpp):
  mlp_step      784-256-128-10 ReLU network, softmax cross-entropy, batch 128, one fixed
                random batch, forward + backward + SGD update; f32 and f64; ms per step
  seed_network  y = σ(W3 σ(W2 σ(W1 I))), the gradient w.r.t. W1, W2, W3; f64; µs
  chain         x ← σ(A x) 500 times (1000 recorded ops), gradient of sum(x) w.r.t. A;
                f64; ns per recorded op
  fashion_mnist the mlp_step network trained on Fashion-MNIST, Adam lr 1e-3, batch 128;
                f32; seconds per epoch (training only, as train_mlp reports it), peak RSS

Settings: the number of threads (torch.set_num_threads, OPENBLAS_NUM_THREADS and
OMP_NUM_THREADS together) and OPENBLAS_CORETYPE (unset, or as the environment sets it).
OpenBLAS reads its settings when it is loaded, so each setting runs in a fresh worker
process; the workers run one after another, several passes, so that noise from the rest
of the machine hits every setting alike. Each figure is the median over all rounds.

Output, one line per figure (report.py parses these):
  torch <workload> <precision> <value> <unit> threads=<n> coretype=<c>        every setting
  torch_best <workload> <precision> <value> <unit> threads=<n> coretype=<c>   the fastest
  torch fashion_mnist f32 <rss> MiB_peak_rss ...  and  ... <accuracy> test_accuracy ...

PyTorch is only a point of comparison: Debian's python3-torch, run with /usr/bin/python3.
"""

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import time

MLP_SIZES = (784, 256, 128, 10)
BATCH = 128
CHAIN_LINKS = 500
FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def timed_rounds(run_round, rounds):
    """Calls run_round() `rounds` times; returns the list of its timings."""
    return [run_round() for _ in range(rounds)]


def per_call(function, calls):
    """Seconds per call of function(), over `calls` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def mlp_network(torch, dtype):
    """784-256-128-10 with ReLU, weights uniform in ±1/sqrt(fan-in) as in mlp_step.cpp."""
    layers = []
    for fan_in, fan_out in zip(MLP_SIZES, MLP_SIZES[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out, dtype=dtype), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def mlp_step_rounds(torch, dtype, rounds, steps):
    """ms per step: forward, cross-entropy, backward, SGD update on one fixed batch."""
    torch.manual_seed(42)
    model = mlp_network(torch, dtype)
    x = torch.rand(BATCH, MLP_SIZES[0], dtype=dtype)  # samples as rows: x Wᵀ + b
    labels = torch.randint(0, MLP_SIZES[-1], (BATCH,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()

    per_call(step, 5)  # warm up: allocator caches, BLAS buffers
    return timed_rounds(lambda: 1e3 * per_call(step, steps), rounds)


def seed_network_rounds(torch, rounds, calls):
    """µs per full gradient of the seed network (seed 001), f64."""
    f64 = torch.float64
    W1 = torch.tensor([[0.1, -0.2], [0.3, 0.4]], dtype=f64, requires_grad=True)
    W2 = torch.tensor([[-0.5, 0.6], [0.7, -0.8]], dtype=f64, requires_grad=True)
    W3 = torch.tensor([[0.9, -1.0]], dtype=f64, requires_grad=True)
    I = torch.tensor([[0.5], [-1.5]], dtype=f64)

    def gradient():
        y = torch.sigmoid(W3 @ torch.sigmoid(W2 @ torch.sigmoid(W1 @ I)))
        return torch.autograd.grad(y, (W1, W2, W3))

    per_call(gradient, calls // 10)
    return timed_rounds(lambda: 1e6 * per_call(gradient, calls), rounds)


def chain_rounds(torch, rounds, calls):
    """ns per recorded op of x ← σ(A x), 500 links (1000 ops), gradient of sum(x) w.r.t. A."""
    generator = torch.Generator().manual_seed(3)
    A = (2 * torch.rand(2, 2, generator=generator, dtype=torch.float64) - 1).requires_grad_()
    x0 = 2 * torch.rand(2, 1, generator=generator, dtype=torch.float64) - 1

    def gradient():
        x = x0
        for _ in range(CHAIN_LINKS):
            x = torch.sigmoid(A @ x)
        return torch.autograd.grad(x.sum(), A)

    per_call(gradient, 2)
    return timed_rounds(lambda: 1e9 * per_call(gradient, calls) / (2 * CHAIN_LINKS), rounds)


def read_idx(torch, path, header_bytes):
    """An IDX file (gzip) as a uint8 tensor, with numpy; the header is skipped."""
    import numpy

    with gzip.open(path, "rb") as f:
        data = f.read()
    return torch.from_numpy(numpy.frombuffer(data, dtype=numpy.uint8, offset=header_bytes).copy())


def fashion_mnist(torch, epochs):
    """Seconds of each training epoch, test accuracy, peak RSS (MiB) of this process."""
    def images(split):
        pixels = read_idx(torch, f"{FASHION_DIR}/{split}-images-idx3-ubyte.gz", 16)
        return pixels.view(-1, MLP_SIZES[0]).float().div_(255)  # in place: no second copy

    def labels(split):
        return read_idx(torch, f"{FASHION_DIR}/{split}-labels-idx1-ubyte.gz", 8).long()

    x_train, y_train = images("train"), labels("train")
    x_test, y_test = images("t10k"), labels("t10k")

    torch.manual_seed(1)
    model = mlp_network(torch, torch.float32)  # then PyTorch's default initialisation
    for module in model:
        if isinstance(module, torch.nn.Linear):
            module.reset_parameters()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x_train))
        for first in range(0, len(x_train), BATCH):  # the last batch is partial, as in nn::fit
            batch = order[first:first + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)

    with torch.no_grad():
        accuracy = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": seconds, "accuracy": accuracy, "rss": peak_rss_mib}


def worker(args):
    """Runs the requested workloads in this process's setting; prints one JSON object."""
    import torch

    torch.set_num_threads(args.threads)
    result = {}
    if "mlp_step" in args.workloads:
        for precision, dtype in (("f32", torch.float32), ("f64", torch.float64)):
            result[f"mlp_step {precision}"] = mlp_step_rounds(torch, dtype, args.rounds, 20)
    if "seed_network" in args.workloads:
        result["seed_network f64"] = seed_network_rounds(torch, args.rounds, 2000)
    if "chain" in args.workloads:
        result["chain f64"] = chain_rounds(torch, args.rounds, 5)
    if "fashion_mnist" in args.workloads:
        result["fashion_mnist f32"] = fashion_mnist(torch, args.epochs)
    print(json.dumps(result))


def run_worker(threads, coretype, workloads, rounds, epochs):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype != "unset":
        env["OPENBLAS_CORETYPE"] = coretype
    command = [sys.executable, __file__, "--worker", "--threads", str(threads),
               "--workloads", ",".join(workloads), "--rounds", str(rounds),
               "--epochs", str(epochs)]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


UNITS = {"mlp_step": "ms", "seed_network": "us", "chain": "ns_per_op",
         "fashion_mnist": "s_per_epoch"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="mlp_step,seed_network,chain,fashion_mnist",
                        help="comma-separated subset of the workloads")
    parser.add_argument("--threads", default="1,2", help="thread counts to try")
    parser.add_argument("--coretypes", default=None,
                        help="OPENBLAS_CORETYPE values to try, 'unset' for none "
                             "(default: unset and the environment's value)")
    parser.add_argument("--passes", type=int, default=2, help="passes over the settings")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per pass")
    parser.add_argument("--epochs", type=int, default=2,
                        help="Fashion-MNIST epochs per setting (10 for a test accuracy "
                             "comparable with train_mlp's)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workloads = args.workloads.split(",")
    args.threads = [int(t) for t in args.threads.split(",")]
    if args.worker:
        args.threads = args.threads[0]
        worker(args)
        return

    if args.coretypes is None:
        environment = os.environ.get("OPENBLAS_CORETYPE")
        args.coretypes = "unset" + (f",{environment}" if environment else "")
    settings = [(t, c) for c in args.coretypes.split(",") for t in args.threads]

    import torch
    print(f"# PyTorch {torch.__version__}, settings (threads, OPENBLAS_CORETYPE): {settings}")
    sys.stdout.flush()

    # Timings of the short workloads from every pass; Fashion-MNIST once per setting.
    short = [w for w in args.workloads if w != "fashion_mnist"]
    timings = {s: {} for s in settings}
    for _ in range(args.passes if short else 0):
        for threads, coretype in settings:
            result = run_worker(threads, coretype, short, args.rounds, args.epochs)
            for key, rounds in result.items():
                timings[(threads, coretype)].setdefault(key, []).extend(rounds)
    fashion = {}
    if "fashion_mnist" in args.workloads:
        for threads, coretype in settings:
            result = run_worker(threads, coretype, ["fashion_mnist"], args.rounds, args.epochs)
            fashion[(threads, coretype)] = result["fashion_mnist f32"]
            timings[(threads, coretype)]["fashion_mnist f32"] = result["fashion_mnist f32"]["seconds"]

    best = {}
    for (threads, coretype), results in timings.items():
        for key, values in results.items():
            value = statistics.median(values)
            workload, precision = key.split()
            tag = f"threads={threads} coretype={coretype}"
            print(f"torch {key} {value:.4g} {UNITS[workload]} {tag}")
            if key not in best or value < best[key][0]:
                best[key] = (value, tag, (threads, coretype))
    for (threads, coretype), f in fashion.items():
        tag = f"threads={threads} coretype={coretype} epochs={len(f['seconds'])}"
        print(f"torch fashion_mnist f32 {f['rss']:.0f} MiB_peak_rss {tag}")
        print(f"torch fashion_mnist f32 {f['accuracy']:.4f} test_accuracy {tag}")
    for key, (value, tag, setting) in best.items():
        workload = key.split()[0]
        print(f"torch_best {key} {value:.4g} {UNITS[workload]} {tag}")
        if workload == "fashion_mnist":
            print(f"torch_best {key} {fashion[setting]['rss']:.0f} MiB_peak_rss {tag}")
            print(f"torch_best {key} {fashion[setting]['accuracy']:.4f} test_accuracy {tag}")


if __name__ == "__main__":
    main()
