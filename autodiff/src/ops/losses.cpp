// Losses, each fused into one node: the mean loss as value, the closed-form adjoint as rule.

#include <ad/losses.hpp>

#include "log_sum_exp.hpp"
#include "support.hpp"

#include <algorithm>
#include <cmath>

namespace ad {
namespace {

// Softmax cross-entropy against one class index per column, shared by the op with labels
// on the tape and the op with labels in a Var. softmax(z) is recomputed per column in the
// adjoint rather than stored, so the node needs no memory beyond its 1x1 value and the labels.
template <class T, class Labels>
T cross_entropy_of_labels(const Eigen::Map<const Matrix<T>>& z, const Labels& label) {
  T total = 0;
  for (Eigen::Index j = 0; j < z.cols(); ++j) {
    const auto [m, sum] = detail::shifted_exp_sum(z.col(j));
    using std::log;
    total += log(sum) - (z(label(j), j) - m);
  }
  return total / static_cast<T>(z.cols());
}
template <class T, class Labels>
void cross_entropy_of_labels_adjoint(const Rule<T>& r, const Labels& label) {
  auto z = r.x(0);
  auto zbar = r.xbar(0);
  const T scale = r.ybar()(0, 0) / static_cast<T>(z.cols());
  for (Eigen::Index j = 0; j < z.cols(); ++j) {
    const auto [m, sum] = detail::shifted_exp_sum(z.col(j));
    zbar.col(j).array() += (scale / sum) * (z.col(j).array() - m).exp();
    zbar(label(j), j) -= scale;
  }
}

// Z̄ = l̄ (softmax(Z) − Y) / N with Y the one-hot matrix of the labels (label(j) for column j).
template <class T, class Label>
Expr<T> labels_symbolic(const Symbolic<T>& s, Label label) {
  const Expr<T>& z = s.x(0);
  Matrix<T> y = Matrix<T>::Zero(z.rows(), z.cols());
  for (Eigen::Index j = 0; j < z.cols(); ++j) y(label(j), j) = 1;
  return scaled(s.ybar(), (T(1) / static_cast<T>(z.cols())) *
                              (detail::softmax_of(z) - literal<T>("onehot(labels)", y)));
}

template <class T>
struct SoftmaxCrossEntropy {
  static constexpr OpInfo info{
      .name = "softmax_cross_entropy",
      .also = "against integer labels y",
      .value = "l = (1/N) Σⱼ (lse(Z:,ⱼ) − Z_yⱼ,ⱼ)",
      .adjoint = "Z̄ += l̄ (softmax(Z) − Y) / N",
      .domain =
          "total; stable for logits of magnitude 1e4; ad::Error for a label outside [0, rows)"};
  struct Saved {
    const int* labels;  // one per column of Z, a copy on the tape
  };
  static void value(const Rule<T, Saved>& r) {
    const int* labels = r.saved().labels;
    r.y()(0, 0) = cross_entropy_of_labels(r.x(0), [&](Eigen::Index j) { return labels[j]; });
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const int* labels = r.saved().labels;
    cross_entropy_of_labels_adjoint(Rule<T>(r), [&](Eigen::Index j) { return labels[j]; });
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const int* labels = s.saved().labels;
    return labels_symbolic(Symbolic<T>(s), [&](Eigen::Index j) { return labels[j]; });
  }
};

// The labels as numbers in a 1 x N Var, so that a recording evaluated again (<ad/replay.hpp>)
// reads each evaluation's labels; the value rule checks them, as the op above does when it
// is recorded.
template <class T>
struct SparseSoftmaxCrossEntropy {
  static constexpr OpInfo info{
      .name = "sparse_softmax_cross_entropy",
      .also = "against labels y held as numbers in a 1 x N Var",
      .value = "l = (1/N) Σⱼ (lse(Z:,ⱼ) − Z_yⱼ,ⱼ)",
      .adjoint = "Z̄ += l̄ (softmax(Z) − Y) / N",
      .domain = "total; ad::Error for a label that is not a whole number in [0, rows)"};
  static void value(const Rule<T>& r) {
    auto z = r.x(0);
    auto y = r.x(1);
    for (Eigen::Index j = 0; j < y.cols(); ++j) {
      const T label = y(0, j);
      using std::floor;
      if (!(label >= 0 && label < static_cast<T>(z.rows()) && label == floor(label))) {
        throw Error(fmt::format("{}: label {} of column {} is not a class index in [0, {}) (at {})",
                                info.name, label, j, z.rows(), to_string(r.where())));
      }
    }
    r.y()(0, 0) = cross_entropy_of_labels(z, [&](Eigen::Index j) { return Eigen::Index(y(0, j)); });
  }
  static void adjoint(const Rule<T>& r) {
    auto y = r.x(1);
    cross_entropy_of_labels_adjoint(r, [&](Eigen::Index j) { return Eigen::Index(y(0, j)); });
  }
  // l̄ (softmax(Z) − Y) / N, Y the labels one-hot; the labels receive nothing.
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    if (i == 1) return {};
    const auto labels = s.x_value(1);
    return labels_symbolic(s, [&](Eigen::Index j) { return Eigen::Index(labels(0, j)); });
  }
};

template <class T>
struct BinaryCrossEntropyWithLogits {
  static constexpr OpInfo info{.name = "binary_cross_entropy_with_logits",
                               .value = "l = (1/mn) Σᵢⱼ max(Z, 0) − Z ⊙ P + ln(1 + e^−|Z|)",
                               .adjoint = "Z̄ += l̄ (σ(Z) − P) / mn ; P̄ += −l̄ Z / mn",
                               .domain = "total; stable for any finite Z"};
  static void value(const Rule<T>& r) {
    auto z = r.x(0).array();
    auto p = r.x(1).array();
    const T total = (z.max(T(0)) - z * p + (-z.abs()).exp().log1p()).sum();
    r.y()(0, 0) = total / static_cast<T>(z.size());
  }
  static void adjoint(const Rule<T>& r) {
    auto z = r.x(0).array();
    const T scale = r.ybar()(0, 0) / static_cast<T>(z.size());
    if (r.wants(0)) {
      // σ(z) from e^−|z|, which cannot overflow, on either side of 0.
      auto e = (-z.abs()).exp();
      auto sigma = (z >= T(0)).select(T(1) / (T(1) + e), e / (T(1) + e));
      r.accumulate(0, scale * (sigma - r.x(1).array()));
    }
    if (r.wants(1)) r.accumulate(1, -scale * z);
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    const Expr<T>&z = s.x(0), &p = s.x(1);
    const T mn = static_cast<T>(z.rows() * z.cols());
    if (i == 1) return scaled(s.ybar(), (T(-1) / mn) * z);
    const Expr<T> sigma =
        map_elements<T>("σ({})", z, [](T v) { return T(1) / (T(1) + std::exp(-v)); });
    return scaled(s.ybar(), (T(1) / mn) * (sigma - p));
  }
};

template <class T>
struct MeanSquaredError {
  static constexpr OpInfo info{.name = "mse",
                               .value = "l = (1/mn) Σᵢⱼ (Ŷ − Y)²ᵢⱼ",
                               .adjoint = "Ŷ̄ += 2 l̄ (Ŷ − Y) / mn ; Ȳ += −2 l̄ (Ŷ − Y) / mn",
                               .domain = "total"};
  static void value(const Rule<T>& r) {
    r.y()(0, 0) = (r.x(0) - r.x(1)).squaredNorm() / static_cast<T>(r.x(0).size());
  }
  static void adjoint(const Rule<T>& r) {
    const T scale = T(2) * r.ybar()(0, 0) / static_cast<T>(r.x(0).size());
    if (r.wants(0)) r.accumulate(0, scale * (r.x(0) - r.x(1)));
    if (r.wants(1)) r.accumulate(1, -scale * (r.x(0) - r.x(1)));
  }
  static Expr<T> symbolic(const Symbolic<T>& s, int i) {
    const T mn = static_cast<T>(s.x(0).rows() * s.x(0).cols());
    return scaled(s.ybar(), (i == 0 ? T(2) : T(-2)) / mn * (s.x(0) - s.x(1)));
  }
};

void check_not_empty(const char* op, Shape a, std::source_location where) {
  if (a.rows == 0 || a.cols == 0) {
    throw ShapeError(op, a, "the mean loss over no elements is undefined", where);
  }
}

void check_same_shape(const char* op, Shape a, Shape b, std::source_location where) {
  if (a != b) {
    throw ShapeError(op, a, b,
                     "the loss compares element by element, so both must have the same shape "
                     "(no broadcasting)",
                     where);
  }
  check_not_empty(op, a, where);
}

}  // namespace

template <class T>
Var<T> softmax_cross_entropy(const Var<T>& logits, std::span<const int> labels,
                             std::source_location where) {
  constexpr const char* name = "softmax_cross_entropy";
  Tape<T>& tape = detail::tape_of(name, where, logits);
  const Shape z = logits.shape();
  const Shape y{1, static_cast<Eigen::Index>(labels.size())};
  if (y.cols != z.cols) {
    throw ShapeError(name, z, y,
                     fmt::format("the logits have {} columns (samples) but there are {} labels; "
                                 "each column needs one label",
                                 z.cols, y.cols),
                     where);
  }
  check_not_empty(name, z, where);
  for (std::size_t j = 0; j < labels.size(); ++j) {
    if (labels[j] < 0 || labels[j] >= z.rows) {
      throw Error(
          fmt::format("{}: label {} of column {} is outside [0, {}), the rows of the {} "
                      "logits (at {})",
                      name, labels[j], j, z.rows, to_string(z), to_string(where)));
    }
  }
  int* kept = detail::OpAccess<T>::template allocate<int>(tape, labels.size());
  std::copy(labels.begin(), labels.end(), kept);
  return detail::record<SoftmaxCrossEntropy<T>>(tape, name, {logits}, {1, 1}, where,
                                                typename SoftmaxCrossEntropy<T>::Saved{kept});
}

template <class T>
Var<T> sparse_softmax_cross_entropy(const Var<T>& logits, const Var<T>& labels,
                                    std::source_location where) {
  constexpr const char* name = "sparse_softmax_cross_entropy";
  Tape<T>& tape = detail::tape_of(name, where, logits, labels);
  const Shape z = logits.shape();
  const Shape y = labels.shape();
  if (y.rows != 1 || y.cols != z.cols) {
    throw ShapeError(name, z, y,
                     fmt::format("the labels must be a row with one label per column (sample) of "
                                 "the logits, 1 x {}",
                                 z.cols),
                     where);
  }
  check_not_empty(name, z, where);
  if (detail::OpAccess<T>::needs_grad(tape, labels)) {
    throw Error(
        fmt::format("{}: the labels depend on a variable, but class indices have no "
                    "gradient; pass them as a constant (at {})",
                    name, to_string(where)));
  }
  return detail::record<SparseSoftmaxCrossEntropy<T>>(tape, name, {logits, labels}, {1, 1}, where);
}

template <class T>
Var<T> binary_cross_entropy_with_logits(const Var<T>& logits, const Var<T>& targets,
                                        std::source_location where) {
  constexpr const char* name = "binary_cross_entropy_with_logits";
  Tape<T>& tape = detail::tape_of(name, where, logits, targets);
  check_same_shape(name, logits.shape(), targets.shape(), where);
  return detail::record<BinaryCrossEntropyWithLogits<T>>(tape, name, {logits, targets}, {1, 1},
                                                         where);
}

template <class T>
Var<T> mse(const Var<T>& prediction, const Var<T>& target, std::source_location where) {
  Tape<T>& tape = detail::tape_of("mse", where, prediction, target);
  check_same_shape("mse", prediction.shape(), target.shape(), where);
  return detail::record<MeanSquaredError<T>>(tape, "mse", {prediction, target}, {1, 1}, where);
}

#define AD_LOSSES(T)                                                             \
  template Var<T> softmax_cross_entropy(const Var<T>&, std::span<const int>,     \
                                        std::source_location);                   \
  template Var<T> sparse_softmax_cross_entropy(const Var<T>&, const Var<T>&,     \
                                               std::source_location);            \
  template Var<T> binary_cross_entropy_with_logits(const Var<T>&, const Var<T>&, \
                                                   std::source_location);        \
  template Var<T> mse(const Var<T>&, const Var<T>&, std::source_location);
AD_INSTANTIATE_OPS(AD_LOSSES)
#undef AD_LOSSES

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> losses_ops() {
  static constexpr OpInfo rows[] = {
      SoftmaxCrossEntropy<double>::info, SparseSoftmaxCrossEntropy<double>::info,
      BinaryCrossEntropyWithLogits<double>::info, MeanSquaredError<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
