#include "random_expression.hpp"

#include <algorithm>
#include <random>
#include <string>

namespace ad::testing {
namespace {

using V = Var<double>;
using Mat = Matrix<double>;
using D = Dual<double>;

// One kind per op call; a step records one of these. Each op of the engine is at least
// one kind, so that the generator reaches every op.
enum Kind {
  kConstant,
  kMatmul,
  kTranspose,
  kAffine,
  kAdd,
  kSubtract,
  kHadamard,
  kDivide,
  kDivScalar,
  kScalarDiv,
  kSigmoid,
  kTanh,
  kRelu,
  kExp,
  kLog,
  kSqrt,
  kLog1p,
  kPow,
  kAbs,
  kSquare,
  kSoftplus,
  kLogSigmoid,
  kClamp,
  kSum,
  kMean,
  kNorm,
  kTrace,
  kInverse,
  kDet,
  kLogdet,
  kSolve,
  kDot,
  kOuter,
  kDiag,
  kSumAxis,
  kMeanAxis,
  kMaxAxis,
  kReshape,
  kBlock,
  kRow,
  kCol,
  kHcat,
  kVcat,
  kBroadcastTo,
  kSoftmax,
  kLogSoftmax,
  kSoftmaxCrossEntropy,
  kSoftmaxCrossEntropyLabels,
  kSparseSoftmaxCrossEntropy,
  kBinaryCrossEntropy,
  kMse,
  kCholesky,
  kTriangularSolve,
  kCholeskySolve,
  kLogdetSpd,
  kEighValues,
  kEighVectors,
  kSingularValues,
  kSvdU,
  kSvdV,
  kQrQ,
  kQrR,
  kMatrixExp,
  kLogSumExp,
  kLogSumExpAxis,
  kKron,
  kKinds
};

Axis axis_of(const Step& s) { return s.sizes[0] == 0 ? Axis::rows : Axis::cols; }

// The step on a tape of T: double when the graph is built and checked, ad::Dual<double> for
// second derivatives.
template <class T>
Var<T> apply(const Step& s, const std::vector<Var<T>>& nodes, Tape<T>& tape) {
  auto in = [&](std::size_t k) { return nodes[s.operands[k]]; };
  switch (static_cast<Kind>(s.op)) {
    case kConstant:
      return tape.constant(s.constant.cast<T>());
    case kMatmul:
      return in(0) * in(1);
    case kTranspose:
      return transpose(in(0));
    case kAffine:
      return affine(in(0), s.scalar, s.constant(0, 0));
    case kAdd:
      return in(0) + in(1);
    case kSubtract:
      return in(0) - in(1);
    case kHadamard:
      return hadamard(in(0), in(1));
    case kDivide:
      return in(0) / in(1);
    case kDivScalar:
      return in(0) / s.scalar;
    case kScalarDiv:
      return s.scalar / in(0);
    case kSigmoid:
      return sigmoid(in(0));
    case kTanh:
      return tanh(in(0));
    case kRelu:
      return relu(in(0));
    case kExp:
      return exp(in(0));
    case kLog:
      return log(in(0));
    case kSqrt:
      return sqrt(in(0));
    case kLog1p:
      return log1p(in(0));
    case kPow:
      return pow(in(0), s.scalar);
    case kAbs:
      return abs(in(0));
    case kSquare:
      return square(in(0));
    case kSoftplus:
      return softplus(in(0));
    case kLogSigmoid:
      return log_sigmoid(in(0));
    case kClamp:
      return clamp(in(0), -s.scalar, s.scalar);
    case kSum:
      return sum(in(0));
    case kMean:
      return mean(in(0));
    case kNorm:
      return norm(in(0));
    case kTrace:
      return trace(in(0));
    case kInverse:
      return inverse(in(0));
    case kDet:
      return det(in(0));
    case kLogdet:
      return logdet(in(0));
    case kSolve:
      return solve(in(0), in(1));
    case kDot:
      return dot(in(0), in(1));
    case kOuter:
      return outer(in(0), in(1));
    case kDiag:
      return diag(in(0));
    case kSumAxis:
      return sum(in(0), axis_of(s));
    case kMeanAxis:
      return mean(in(0), axis_of(s));
    case kMaxAxis:
      return max(in(0), axis_of(s));
    case kReshape:
      return reshape(in(0), s.sizes[0], s.sizes[1]);
    case kBlock:
      return block(in(0), s.sizes[0], s.sizes[1], s.sizes[2], s.sizes[3]);
    case kRow:
      return row(in(0), s.sizes[0]);
    case kCol:
      return col(in(0), s.sizes[0]);
    case kHcat:
    case kVcat: {
      std::vector<Var<T>> parts;
      for (std::size_t k = 0; k < s.operands.size(); ++k) parts.push_back(in(k));
      return s.op == kHcat ? hcat(std::span<const Var<T>>(parts))
                           : vcat(std::span<const Var<T>>(parts));
    }
    case kBroadcastTo:
      return broadcast_to(in(0), s.sizes[0], s.sizes[1]);
    case kSoftmax:
      return softmax(in(0));
    case kLogSoftmax:
      return log_softmax(in(0));
    case kSoftmaxCrossEntropy:
      return softmax_cross_entropy(in(0), in(1));
    case kSoftmaxCrossEntropyLabels: {
      std::vector<int> labels(s.sizes.begin(), s.sizes.end());
      return softmax_cross_entropy(in(0), std::span<const int>(labels));
    }
    case kSparseSoftmaxCrossEntropy: {
      const Matrix<double> labels =
          Eigen::Map<const Eigen::Matrix<Eigen::Index, 1, Eigen::Dynamic>>(
              s.sizes.data(), static_cast<Eigen::Index>(s.sizes.size()))
              .cast<double>();
      return sparse_softmax_cross_entropy(in(0), tape.constant(labels.cast<T>()));
    }
    case kBinaryCrossEntropy:
      return binary_cross_entropy_with_logits(in(0), in(1));
    case kMse:
      return mse(in(0), in(1));
    case kCholesky:
      return cholesky(in(0));
    case kTriangularSolve:
      return triangular_solve(in(0), in(1), s.sizes[0] == 0 ? Triangle::lower : Triangle::upper,
                              s.sizes[1] == 0 ? Transposed::no : Transposed::yes);
    case kCholeskySolve:
      return cholesky_solve(in(0), in(1));
    case kLogdetSpd:
      return logdet_spd(in(0));
    case kEighValues:
      return eigh_values(in(0));
    case kEighVectors:
      return eigh_vectors(in(0));
    case kSingularValues:
      return singular_values(in(0));
    case kSvdU:
      return svd_u(in(0));
    case kSvdV:
      return svd_v(in(0));
    case kQrQ:
      return qr_q(in(0));
    case kQrR:
      return qr_r(in(0));
    case kMatrixExp:
      return matrix_exp(in(0));
    case kLogSumExp:
      return log_sum_exp(in(0));
    case kLogSumExpAxis:
      return log_sum_exp(in(0), axis_of(s));
    case kKron:
      return kron(in(0), in(1));
    case kKinds:
      break;
  }
  throw Error("random_expression: unknown step kind");
}

// A step that would leave the values' safe range (or hit a singular matrix): the builder
// drops it and tries another op.
struct Rejected {};

class Builder {
 public:
  Builder(RandomExpression& e, std::uint64_t seed) : e_(e), rng_(seed) {
    for (const auto& x : e_.inputs) nodes_.push_back(tape_.variable(x));
  }

  // Appends one op chosen at random, with whatever adapter steps its operands need.
  void grow() {
    const std::size_t steps = e_.steps.size();
    const std::size_t nodes = nodes_.size();
    try {
      build(static_cast<Kind>(uniform(kMatmul, kKinds - 1)));
    } catch (const Rejected&) {
      e_.steps.resize(steps);
      nodes_.resize(nodes);
    }
  }

  // Adds every node that no step uses into the output, so that the whole graph is checked.
  void join() {
    std::vector<bool> used(nodes_.size(), false);
    for (const Step& step : e_.steps) {
      for (int i : step.operands) used[i] = true;
    }
    const int n = static_cast<int>(nodes_.size());
    for (int i = 0; i + 1 < n; ++i) {
      if (used[i] || !nodes_[i].value().allFinite() || std::string(nodes_[i].op()) == "constant") {
        continue;
      }
      const std::size_t steps = e_.steps.size();
      const std::size_t nodes = nodes_.size();
      try {
        const int last = static_cast<int>(nodes_.size() - 1);
        emit(kAdd, {last, fit(i, shape(last))});
      } catch (const Rejected&) {
        e_.steps.resize(steps);
        nodes_.resize(nodes);
      }
    }
  }

 private:
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(rng_); }
  Eigen::Index dim() { return uniform(1, 3); }
  Shape shape(int i) const { return nodes_[i].shape(); }

  int emit(Kind kind, std::vector<int> operands, std::vector<Eigen::Index> sizes = {},
           double scalar = 0, Mat constant = {}) {
    Step s{kind, std::move(operands), std::move(sizes), scalar, std::move(constant)};
    V v;
    try {
      v = apply(s, nodes_, tape_);
    } catch (const NumericError&) {
      throw Rejected{};
    }
    // Bounded values keep finite differences accurate (their rounding error grows with |f|).
    if (!v.value().allFinite() || v.value().cwiseAbs().maxCoeff() > 50) throw Rejected{};
    e_.steps.push_back(std::move(s));
    nodes_.push_back(v);
    return static_cast<int>(nodes_.size() - 1);
  }

  // A node, more likely a recent one (deeper graphs), any earlier one shared.
  int pick() {
    const int n = static_cast<int>(nodes_.size());
    return coin(0.7) ? n - 1 - uniform(0, std::min(n - 1, 1)) : uniform(0, n - 1);
  }

  // A node with exactly this shape, made from i by slicing, reducing, broadcasting,
  // concatenating, transposing or reshaping.
  int fit(int i, Shape target) {
    Shape s = shape(i);
    if (s == target) return i;
    if (s.rows == target.cols && s.cols == target.rows && coin()) return emit(kTranspose, {i});
    if (s.rows * s.cols == target.rows * target.cols && coin()) {
      return emit(kReshape, {i}, {target.rows, target.cols});
    }
    if (s.rows > target.rows) {
      if (target.rows == 1 && coin()) {
        i = coin() ? emit(kRow, {i}, {uniform(0, int(s.rows) - 1)}) : emit(kMaxAxis, {i}, {0});
      } else {
        i = emit(kBlock, {i}, {uniform(0, int(s.rows - target.rows)), 0, target.rows, s.cols});
      }
    } else if (s.rows < target.rows) {
      if (s.rows * 2 == target.rows && coin()) {
        i = emit(kVcat, {i, i});
      } else {
        if (s.rows > 1) i = emit(coin() ? kSumAxis : kMeanAxis, {i}, {0});
        i = emit(kBroadcastTo, {i}, {target.rows, s.cols});
      }
    }
    s = shape(i);
    if (s.cols > target.cols) {
      i = target.cols == 1 && coin()
              ? emit(kCol, {i}, {uniform(0, int(s.cols) - 1)})
              : emit(kBlock, {i}, {0, uniform(0, int(s.cols - target.cols)), s.rows, target.cols});
    } else if (s.cols < target.cols) {
      if (s.cols > 1) i = emit(coin() ? kSumAxis : kMeanAxis, {i}, {1});
      i = emit(kBroadcastTo, {i}, {s.rows, target.cols});
    }
    return i;
  }

  // Positive values: softplus(x) + 0.2 or x ⊙ x + 0.5.
  int positive(int i) {
    return coin() ? emit(kAffine, {emit(kSoftplus, {i})}, {}, 1.0, Mat::Constant(1, 1, 0.2))
                  : emit(kAffine, {emit(kSquare, {i})}, {}, 1.0, Mat::Constant(1, 1, 0.5));
  }

  // A well-conditioned n x n matrix from node i: W Wᵀ / k + I, eigenvalues in [1, 1 + ‖W‖²/k].
  int regular(int i, Eigen::Index n) {
    const Eigen::Index k = dim();
    const int w = fit(i, {n, k});
    const int g = emit(kAffine, {emit(kMatmul, {w, emit(kTranspose, {w})})}, {}, 1.0 / double(k),
                       Mat::Zero(1, 1));
    return emit(kAdd, {g, emit(kConstant, {}, {}, 0, Mat::Identity(n, n))});
  }

  // 0.1 tanh(X) + D for X made from node i and a constant D: inside D's domain whatever X
  // is, as every element of the first term lies in (−0.1, 0.1).
  int near(int i, const Mat& d, double scale = 0.1) {
    const int x =
        emit(kAffine, {emit(kTanh, {fit(i, {d.rows(), d.cols()})})}, {}, scale, Mat::Zero(1, 1));
    return emit(kAdd, {x, emit(kConstant, {}, {}, 0, d)});
  }

  // Ramp(m, n): the m x n matrix with k, k − 1, …, 1 on its diagonal (k = min(m, n)).
  static Mat ramp(Eigen::Index rows, Eigen::Index cols) {
    Mat d = Mat::Zero(rows, cols);
    const Eigen::Index k = std::min(rows, cols);
    for (Eigen::Index i = 0; i < k; ++i) d(i, i) = double(k - i);
    return d;
  }

  void build(Kind kind) {
    const int a = pick();
    const Shape s = shape(a);
    switch (kind) {
      case kMatmul:
        if (s.rows == s.cols && coin(0.3)) {
          emit(kMatmul, {a, a});
        } else {
          emit(kMatmul, {a, fit(pick(), {s.cols, dim()})});
        }
        return;
      case kAdd:
      case kSubtract:
      case kHadamard:
      case kDivide: {
        if (coin(0.2)) {
          emit(kind, {a, kind == kDivide ? positive(a) : a});
          return;
        }
        const Shape shapes[] = {s, {1, s.cols}, {s.rows, 1}, {1, 1}};
        int b = fit(pick(), shapes[uniform(0, 3)]);
        if (kind == kDivide) b = positive(b);
        if (coin()) {
          emit(kind, {a, b});
        } else {
          emit(kind, {b, a});
        }
        return;
      }
      case kAffine:
        emit(kAffine, {a}, {}, uniform(-4, 4) / 2.0, Mat::Constant(1, 1, uniform(-2, 2) / 2.0));
        return;
      case kDivScalar:
        emit(kDivScalar, {a}, {}, coin() ? 2.0 : -3.0);
        return;
      case kScalarDiv:
        emit(kScalarDiv, {positive(a)}, {}, coin() ? 1.0 : -2.0);
        return;
      case kLog:
      case kSqrt:
      case kLog1p:
        emit(kind, {positive(a)});
        return;
      case kPow: {
        const double powers[] = {2, 3, -1, 0.5, 1.5};
        const double p = powers[uniform(0, 4)];
        emit(kPow, {p == 2 || p == 3 ? a : positive(a)}, {}, p);
        return;
      }
      case kClamp:
        emit(kClamp, {a}, {}, 0.5);
        return;
      case kTrace:
      case kDet: {
        const Eigen::Index n = dim();
        emit(kind, {fit(a, {n, n})});
        return;
      }
      case kInverse:
      case kLogdet:
        emit(kind, {regular(a, dim())});
        return;
      case kSolve: {
        const Eigen::Index n = dim();
        emit(kSolve, {regular(a, n), fit(pick(), {n, dim()})});
        return;
      }
      case kDot:
        emit(kDot, {a, coin(0.3) ? a : fit(pick(), s)});
        return;
      case kOuter:
        emit(kOuter, {fit(a, {dim(), 1}), fit(pick(), {dim(), 1})});
        return;
      case kDiag: {
        const Eigen::Index n = dim();
        emit(kDiag, {coin() ? fit(a, {n, 1}) : fit(a, {n, n})});
        return;
      }
      case kSumAxis:
      case kMeanAxis:
      case kMaxAxis:
        emit(kind, {a}, {uniform(0, 1)});
        return;
      case kReshape: {
        const Eigen::Index n = s.rows * s.cols;
        const Shape shapes[] = {{s.cols, s.rows}, {1, n}, {n, 1}};
        const Shape t = shapes[uniform(0, 2)];
        emit(kReshape, {a}, {t.rows, t.cols});
        return;
      }
      case kBlock: {
        const Eigen::Index rows = uniform(1, int(s.rows));
        const Eigen::Index cols = uniform(1, int(s.cols));
        emit(kBlock, {a},
             {uniform(0, int(s.rows - rows)), uniform(0, int(s.cols - cols)), rows, cols});
        return;
      }
      case kRow:
        emit(kRow, {a}, {uniform(0, int(s.rows) - 1)});
        return;
      case kCol:
        emit(kCol, {a}, {uniform(0, int(s.cols) - 1)});
        return;
      case kHcat:
      case kVcat: {
        const bool h = kind == kHcat;
        const int b = fit(pick(), h ? Shape{s.rows, dim()} : Shape{dim(), s.cols});
        emit(kind, coin(0.3) ? std::vector<int>{a, b, a} : std::vector<int>{a, b});
        return;
      }
      case kBroadcastTo:
        // A row stretches down, a column across.
        if (coin()) {
          emit(kBroadcastTo, {fit(a, {1, s.cols})}, {s.rows + uniform(0, 1), s.cols});
        } else {
          emit(kBroadcastTo, {fit(a, {s.rows, 1})}, {s.rows, s.cols + uniform(0, 1)});
        }
        return;
      case kSoftmaxCrossEntropy:
        emit(kind, {a, emit(kSoftmax, {fit(pick(), s)})});
        return;
      case kSoftmaxCrossEntropyLabels:
      case kSparseSoftmaxCrossEntropy: {
        std::vector<Eigen::Index> labels;
        for (Eigen::Index j = 0; j < s.cols; ++j) labels.push_back(uniform(0, int(s.rows) - 1));
        emit(kind, {a}, labels);
        return;
      }
      case kBinaryCrossEntropy:
        emit(kind, {a, emit(kSigmoid, {fit(pick(), s)})});
        return;
      case kMse:
        emit(kind, {a, coin(0.2) ? a : fit(pick(), s)});
        return;
      // SPD inputs: W Wᵀ / k + I.
      case kCholesky:
      case kLogdetSpd:
        emit(kind, {regular(a, dim())});
        return;
      case kCholeskySolve: {
        const Eigen::Index n = dim();
        emit(kind, {emit(kCholesky, {regular(a, n)}), fit(pick(), {n, dim()})});
        return;
      }
      // A triangle with a diagonal in (1.9, 2.1): well conditioned.
      case kTriangularSolve: {
        const Eigen::Index n = dim();
        emit(kind, {near(a, 2 * Mat::Identity(n, n)), fit(pick(), {n, dim()})},
             {uniform(0, 1), uniform(0, 1)});
        return;
      }
      // Eigenvalues and singular values near n, n − 1, …, 1: gaps above 0.4 for n ≤ 3, and
      // vectors near the unit vectors (clear of the sign rule's ties).
      case kEighValues:
      case kEighVectors: {
        const Eigen::Index n = dim();
        emit(kind, {near(a, ramp(n, n))});
        return;
      }
      case kSingularValues:
      case kSvdU:
      case kSvdV:
        emit(kind, {near(a, ramp(dim(), dim()))});
        return;
      // Full column rank: m ≥ n, 2 I plus elements below 0.3.
      case kQrQ:
      case kQrR: {
        const Eigen::Index n = dim();
        emit(kind, {near(a, 2 * Mat::Identity(n + uniform(0, 1), n), 0.3)});
        return;
      }
      case kMatrixExp: {
        const Eigen::Index n = dim();
        emit(kind, {emit(kTanh, {fit(a, {n, n})})});
        return;
      }
      case kLogSumExpAxis:
        emit(kind, {a}, {uniform(0, 1)});
        return;
      case kKron:
        emit(kind, {fit(a, {dim(), dim()}), fit(pick(), {dim(), dim()})});
        return;
      default:
        emit(kind, {a});
        return;
    }
  }

  RandomExpression& e_;
  std::mt19937_64 rng_;
  Tape<double> tape_;
  std::vector<V> nodes_;
};

template <class T>
Var<T> replay(const std::vector<Step>& steps, std::span<const Var<T>> x) {
  std::vector<Var<T>> nodes(x.begin(), x.end());
  Tape<T>& tape = x[0].tape();
  for (const Step& s : steps) nodes.push_back(apply(s, nodes, tape));
  return nodes.back();
}

}  // namespace

Var<double> RandomExpression::operator()(std::span<const Var<double>> x) const {
  return replay(steps, x);
}
Var<Dual<double>> RandomExpression::operator()(std::span<const Var<Dual<double>>> x) const {
  return replay(steps, x);
}

std::string RandomExpression::text() const {
  Tape<double> tape;
  std::vector<V> x;
  for (const auto& m : inputs) x.push_back(tape.variable(m));
  return to_string(expression((*this)(x)));
}

RandomExpression random_expression(std::uint64_t seed) {
  RandomExpression e;
  e.seed = seed;
  std::mt19937_64 rng(seed);
  const int inputs = std::uniform_int_distribution<int>(1, 3)(rng);
  std::uniform_int_distribution<int> dims(1, 4);
  for (int k = 0; k < inputs; ++k) {
    e.inputs.push_back(random_normal<double>(dims(rng), dims(rng), rng));
  }
  Builder builder(e, rng());
  const int ops = std::uniform_int_distribution<int>(2, 16)(rng);
  // Some ops are refused (out of range); a bounded number of tries keeps generation finite.
  for (int tries = 0; tries < 4 * ops && e.steps.size() < static_cast<std::size_t>(ops); ++tries) {
    builder.grow();
  }
  builder.join();
  if (e.steps.empty()) e.steps.push_back(Step{kSum, {0}, {}, 0, {}});
  return e;
}

}  // namespace ad::testing
