// The cost of second derivatives (<ad/hessian.hpp>): one Hessian-vector product relative to
// one gradient for the seed network, the 1000-op chain and the MLP 784-256-128-10 (batch 128,
// softmax cross-entropy, in double), and the whole Hessian of a 50-parameter function
// (L2-regularised logistic loss on 200 samples) for benchmarks/hessian_torch.py to compare
// with PyTorch.
//
//   hessian_cost [--reps N]
//
// Each pair alternates in one process, N repetitions each (the first round dropped), and
// medians are printed, one line per figure in the form `key value`. On a reused tape is the
// method itself: the gradient recorded on a reused double tape and swept, the hvp recorded on
// a reused tape of dual numbers and swept. The public call ad::hvp (which converts its inputs
// and keeps one tape per thread between calls) is set against both gradients.

#include <ad/ad.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace {

using Mat = ad::Matrix<double>;
using D = ad::Dual<double>;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds for one call of each of `calls`, alternating, medians over reps.
template <class... Calls>
std::vector<double> time_alternating(int reps, Calls... calls) {
  std::vector<std::vector<double>> times(sizeof...(calls));
  for (int r = 0; r < reps + 1; ++r) {
    std::size_t k = 0;
    auto time_one = [&](auto& call) {
      const auto t0 = Clock::now();
      call();
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      if (r > 0) times[k].push_back(s);
      ++k;
    };
    (time_one(calls), ...);
  }
  std::vector<double> medians;
  for (auto& t : times) medians.push_back(median(t));
  return medians;
}

template <class F>
void compare(const std::string& key, const F& f, const std::vector<Mat>& inputs, int reps,
             int inner) {
  std::mt19937_64 rng(7);
  std::vector<Mat> directions;
  for (const Mat& x : inputs) {
    directions.push_back(ad::random_uniform<double>(x.rows(), x.cols(), rng, -1, 1));
  }
  std::vector<ad::Matrix<D>> dual;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    dual.push_back(inputs[k].binaryExpr(directions[k], [](double a, double t) { return D(a, t); }));
  }
  ad::Tape<double> tape;
  ad::Tape<D> dual_tape;
  double sink = 0;
  auto gradient = [&] {
    for (int i = 0; i < inner; ++i) {
      tape.clear();
      std::vector<ad::Var<double>> x;
      for (const Mat& m : inputs) x.push_back(tape.variable(m));
      tape.backward(f(std::span<const ad::Var<double>>(x)));
      sink += x[0].grad()(0, 0);
    }
  };
  auto gradient_fresh = [&] {
    for (int i = 0; i < inner; ++i) {
      ad::Tape<double> fresh;
      std::vector<ad::Var<double>> x;
      for (const Mat& m : inputs) x.push_back(fresh.variable(m));
      fresh.backward(f(std::span<const ad::Var<double>>(x)));
      sink += x[0].grad()(0, 0);
    }
  };
  auto hvp_on_tape = [&] {
    for (int i = 0; i < inner; ++i) {
      dual_tape.clear();
      std::vector<ad::Var<D>> x;
      for (const ad::Matrix<D>& m : dual) x.push_back(dual_tape.variable(m));
      dual_tape.backward(f(std::span<const ad::Var<D>>(x)));
      sink += x[0].grad()(0, 0).tangent;
    }
  };
  auto hvp_call = [&] {
    for (int i = 0; i < inner; ++i) {
      sink +=
          ad::hvp([&](std::span<const ad::Var<D>> x) { return f(x); }, inputs, directions)[0](0, 0);
    }
  };
  const std::vector<double> t =
      time_alternating(reps, gradient, hvp_on_tape, gradient_fresh, hvp_call);
  fmt::print("{}_gradient_us {:.3f}\n", key, 1e6 * t[0] / inner);
  fmt::print("{}_hvp_us {:.3f}\n", key, 1e6 * t[1] / inner);
  fmt::print("{}_gradient_fresh_us {:.3f}\n", key, 1e6 * t[2] / inner);
  fmt::print("{}_hvp_call_us {:.3f}\n", key, 1e6 * t[3] / inner);
  fmt::print(
      "# {}: hvp / gradient = {:.2f} on a reused tape; ad::hvp / gradient on a reused tape = "
      "{:.2f}, on a fresh tape = {:.2f} (checksum {:.3g})\n",
      key, t[1] / t[0], t[3] / t[0], t[3] / t[2], sink);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 21;
  if (argc == 3 && std::string(argv[1]) == "--reps") reps = std::max(1, std::atoi(argv[2]));

  // The seed network: y = σ(W3 σ(W2 σ(W1 x))), gradient and hvp in W1, W2, W3.
  {
    const Mat w1{{0.1, -0.2}, {0.3, 0.4}}, w2{{-0.5, 0.6}, {0.7, -0.8}}, w3{{0.9, -1.0}};
    const Mat in{{0.5}, {-1.5}};
    auto f = [&](auto x) {
      return sigmoid(x[2] * sigmoid(x[1] * sigmoid(x[0] * ad::constant(x[0], in))));
    };
    compare("seed", f, {w1, w2, w3}, reps, 2000);
  }
  // The chain: x ← σ(A x), 500 links (1000 ops), the sum of the last x; in A.
  {
    const Mat a{{0.3, -0.2}, {0.5, 0.1}}, x0{{0.5}, {-1.5}};
    auto f = [&](auto x) {
      auto v = ad::constant(x[0], x0);
      for (int i = 0; i < 500; ++i) v = sigmoid(x[0] * v);
      return sum(v);
    };
    compare("chain", f, {a}, reps, 20);
  }
  // The MLP 784-256-128-10, batch 128, relu, softmax cross-entropy; in every weight and bias.
  {
    std::mt19937_64 rng(3);
    const Mat images = ad::random_uniform<double>(784, 128, rng, 0, 1);
    std::vector<int> labels;
    for (int j = 0; j < 128; ++j) labels.push_back(j % 10);
    std::vector<Mat> params;
    const int sizes[] = {784, 256, 128, 10};
    for (int l = 0; l < 3; ++l) {
      const double scale = std::sqrt(2.0 / sizes[l]);
      params.push_back(ad::random_uniform<double>(sizes[l + 1], sizes[l], rng, -scale, scale));
      params.push_back(Mat::Zero(sizes[l + 1], 1));
    }
    auto f = [&](auto x) {
      auto h = relu(x[0] * ad::constant(x[0], images) + x[1]);
      h = relu(x[2] * h + x[3]);
      return softmax_cross_entropy(x[4] * h + x[5], std::span<const int>(labels));
    };
    compare("mlp", f, params, std::max(3, reps / 3), 1);
  }
  // The dual product's method: the engine's (three real products, kernels::product) against
  // Eigen's GEMM on ad::Dual<double>, for the MLP's first product, 256x784 by 784x128.
  {
    std::mt19937_64 rng(4);
    auto dual_random = [&](Eigen::Index rows, Eigen::Index cols) {
      const Mat v = ad::random_uniform<double>(rows, cols, rng, -1, 1);
      const Mat t = ad::random_uniform<double>(rows, cols, rng, -1, 1);
      return ad::Matrix<D>(v.binaryExpr(t, [](double x, double y) { return D(x, y); }));
    };
    const ad::Matrix<D> a = dual_random(256, 784), b = dual_random(784, 128);
    ad::Tape<D> tape;
    ad::Matrix<D> c(256, 128);
    double largest_difference = 0;
    const std::vector<double> t = time_alternating(
        std::max(3, reps / 3),
        [&] {
          tape.clear();
          const ad::Var<D> product = tape.constant(a) * tape.constant(b);
          largest_difference = (product.value() - c)
                                   .unaryExpr([](const D& x) {
                                     return std::max(std::abs(x.value), std::abs(x.tangent));
                                   })
                                   .maxCoeff();
        },
        [&] { c.noalias() = a * b; });
    fmt::print("dual_product_engine_ms {:.3f}\n", 1e3 * t[0]);
    fmt::print("dual_product_eigen_ms {:.3f}\n", 1e3 * t[1]);
    fmt::print(
        "# dual product 256x784x128: engine / Eigen's GEMM on Dual = {:.3f} (they agree to "
        "{:.1e})\n",
        t[0] / t[1], largest_difference);
  }
  // The Hessian of a 50-parameter function: ½‖w‖² + Σ ln(1 + e^(−yᵢ xᵢᵀ w)), 200 samples.
  {
    std::mt19937_64 rng(5);
    const Mat x = ad::random_uniform<double>(200, 50, rng, -1, 1);
    Mat y(200, 1);
    for (int i = 0; i < 200; ++i) y(i, 0) = i % 2 ? 1 : -1;
    const Mat w = ad::random_uniform<double>(50, 1, rng, -0.1, 0.1);
    auto f = [&](const auto& v) {
      return 0.5 * sum(square(v)) +
             sum(softplus(-hadamard(ad::constant(v, y), ad::constant(v, x) * v)));
    };
    Mat h;
    const std::vector<double> t = time_alternating(reps, [&] { h = ad::hessian(f, w); });
    // The closed form Xᵀ diag(σ(1 − σ)) X + I, as a check of what was timed.
    const Eigen::ArrayXd s = 1 / (1 + (-(y.array() * (x * w).array())).exp());
    const Mat expected =
        x.transpose() * (s * (1 - s)).matrix().asDiagonal() * x + Mat::Identity(50, 50);
    fmt::print("hessian50_ms {:.4f}\n", 1e3 * t[0]);
    fmt::print("# hessian of 50 parameters: {:.4f} ms; max error against the closed form {:.1e}\n",
               1e3 * t[0], (h - expected).cwiseAbs().maxCoeff());
  }
  return 0;
}
