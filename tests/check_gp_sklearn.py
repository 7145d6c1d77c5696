#!/usr/bin/python3
"""examples/gaussian_process against scikit-learn's GaussianProcessRegressor on the same data.

    check_gp_sklearn.py GAUSSIAN_PROCESS DATA_DIR

The same kernel, ConstantKernel * RBF + WhiteKernel, with the same hyperparameters in log
space (scikit-learn's theta: ln σ_f², ln ℓ, ln σ_n²), on the diabetes data standardised as
the example does (numpy here, C++ there). Checks:
  - the log marginal likelihood and its gradient at several θ agree to 1e-8 relative;
  - the optimum the example reaches agrees with scikit-learn's fit (started at the same θ,
    with alpha = 0 so that the noise is the white kernel's alone, and scipy's L-BFGS-B run
    to a gradient of 1e-10) to 1e-4 relative.
scikit-learn is used only here, as the independent reference. Exits non-zero on a failure.
"""

import gzip
import subprocess
import sys

import numpy as np
import scipy.optimize
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel


def load(data_dir):
    def table(name):
        with gzip.open(f"{data_dir}/{name}", "rt") as f:
            return np.loadtxt(f, ndmin=2)

    def standardise(m):
        m = m - m.mean(axis=0)
        return m / m.std(axis=0)

    return standardise(table("diabetes_data_raw.csv.gz")), standardise(
        table("diabetes_target.csv.gz"))[:, 0]


def kernel(theta):
    signal, length, noise = np.exp(theta)
    bounds = (1e-8, 1e8)
    return (ConstantKernel(signal, bounds) * RBF(length, bounds) +
            WhiteKernel(noise, bounds))


def run(binary, data_dir, *args):
    out = subprocess.run([binary, "--data", data_dir, *args], check=True, capture_output=True,
                         text=True).stdout
    fields = {}
    for line in out.splitlines():
        key, *values = line.split()
        if key in ("lml", "gradient", "optimum"):  # the lines meant to be read back
            fields[key] = [float(v) for v in values]
    return fields


def relative(a, b):
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def main():
    binary, data_dir = sys.argv[1], sys.argv[2]
    x, y = load(data_dir)
    failures = 0

    for theta in ([0.0, np.log(np.sqrt(10)), 0.0], [0.3, 1.2, -1.5], [-1.0, 2.5, -0.2]):
        gpr = GaussianProcessRegressor(kernel(theta), alpha=0.0, optimizer=None).fit(x, y)
        lml, gradient = gpr.log_marginal_likelihood(gpr.kernel_.theta, eval_gradient=True)
        ours = run(binary, data_dir, "--theta", *[repr(t) for t in theta])
        e_value = relative(ours["lml"][0], lml)
        e_gradient = relative(ours["gradient"], gradient)
        ok = e_value <= 1e-8 and e_gradient <= 1e-8
        failures += not ok
        print(f"θ = {theta}: LML {ours['lml'][0]:.12f} vs {lml:.12f} (relative {e_value:.1e}), "
              f"gradient relative {e_gradient:.1e}: {'PASS' if ok else 'FAIL'}")

    def tight_lbfgs(objective, initial_theta, bounds):
        result = scipy.optimize.minimize(objective, initial_theta, jac=True, method="L-BFGS-B",
                                         bounds=bounds,
                                         options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 1000})
        return result.x, result.fun

    start = [0.0, np.log(np.sqrt(x.shape[1])), 0.0]
    fitted = GaussianProcessRegressor(kernel(start), alpha=0.0, optimizer=tight_lbfgs,
                                      n_restarts_optimizer=0).fit(x, y)
    ours = run(binary, data_dir)
    e_optimum = relative(ours["optimum"], fitted.kernel_.theta)
    ok = e_optimum <= 1e-4
    failures += not ok
    print(f"optimum: {ours['optimum']} vs scikit-learn's {list(fitted.kernel_.theta)} "
          f"(relative {e_optimum:.1e}): {'PASS' if ok else 'FAIL'}")
    print(f"LML at the optimum: {ours['lml'][0]:.12f} vs "
          f"{fitted.log_marginal_likelihood_value_:.12f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
