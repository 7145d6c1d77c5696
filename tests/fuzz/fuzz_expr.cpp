// A small expression language over the public API of <ad/ad.hpp>: the bytes are a program
// that makes leaves (variables, constants, a parameter), applies ops to any earlier values
// (op, operands, shapes, indices and scalars all from the bytes, sizes and indices
// including hostile ones: 0, -1, 2^31 - 1, 2^32, INT64_MAX ...), clears the tape (so that
// stale handles get used) and finally runs backward from a value (summed unless 1x1).
//
// Expected: ad::Error and its subclasses, each leaving the tape as it was (docs/design.md:
// "a refused op leaves nothing on the tape"). The harness never asks for a legitimately
// huge allocation (values with a hostile dimension are not reused; broadcast_to to a
// hostile size only where the engine must refuse it), so std::bad_alloc is a finding, as
// is any other exception, a crash or a sanitizer report.

#include "fuzz_support.hpp"

#include <ad/ad.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <new>
#include <optional>
#include <random>
#include <span>
#include <vector>

namespace {

using Var = ad::Var<double>;
using Mat = ad::Matrix<double>;
using Eigen::Index;

constexpr Index kMaxKeptDim = 64;       // larger values (with elements) are not reused
constexpr std::size_t kMaxValues = 48;  // values an op can pick its operands from
constexpr int kMaxOps = 64;

constexpr Index kHostileSizes[] = {0,
                                   -1,
                                   -2,
                                   2147483647,
                                   2147483648,
                                   -2147483648,
                                   4294967295,
                                   4294967296,
                                   65536,
                                   46341,
                                   3037000500,
                                   Index{1} << 28,
                                   Index{1} << 62,
                                   std::numeric_limits<Index>::max(),
                                   std::numeric_limits<Index>::min(),
                                   7};

constexpr double kScalars[] = {0.0,
                               1.0,
                               -1.0,
                               0.5,
                               2.0,
                               -3.0,
                               1e-300,
                               1e300,
                               std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(),
                               std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::max(),
                               std::numeric_limits<double>::denorm_min(),
                               1e-8,
                               10.0,
                               -0.0};

// The program's bytes; past the end every read is 0.
class Bytes {
 public:
  explicit Bytes(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  bool done() const { return position_ >= bytes_.size(); }
  std::uint8_t next() { return done() ? 0 : bytes_[position_++]; }
  // Mostly 0 to 6; a hostile size for bytes from 0xF0 on.
  Index size() {
    const std::uint8_t b = next();
    return b >= 0xF0 ? kHostileSizes[b - 0xF0] : b % 7;
  }
  // Mostly -2 to 7; a hostile value for bytes from 0xF0 on.
  Index index() {
    const std::uint8_t b = next();
    return b >= 0xF0 ? kHostileSizes[b - 0xF0] : Index{b % 10} - 2;
  }
  double scalar() { return kScalars[next() % std::size(kScalars)]; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t position_ = 0;
};

bool kept_dims(Index rows, Index cols) { return rows <= kMaxKeptDim && cols <= kMaxKeptDim; }

enum class Op : std::uint8_t {
  leaf,
  clear,
  matmul,
  transpose,
  affine,
  add,
  subtract,
  hadamard,
  divide,
  scalar_product,
  negate,
  sigmoid,
  tanh,
  relu,
  exp,
  log,
  sqrt,
  abs,
  square,
  softplus,
  log_sigmoid,
  pow,
  clamp,
  sum,
  mean,
  sum_axis,
  mean_axis,
  max_axis,
  trace,
  inverse,
  det,
  logdet,
  solve,
  dot,
  outer,
  norm,
  diag,
  reshape,
  block,
  row,
  col,
  hcat,
  vcat,
  broadcast_to,
  softmax,
  log_softmax,
  softmax_cross_entropy,
  softmax_cross_entropy_labels,
  binary_cross_entropy_with_logits,
  mse,
  count
};

class Program {
 public:
  explicit Program(std::span<const std::uint8_t> bytes) : in_(bytes) {}

  void run() {
    tape_.check_finite(in_.next() & 1);
    const Index rows = in_.next() % 7, cols = in_.next() % 7;
    parameter_.emplace(matrix(rows, cols), "p");
    other_leaf_ = other_tape_.variable(Mat::Ones(2, 2));
    apply(Op::leaf);
    for (int step = 0; step < kMaxOps && !in_.done(); ++step) {
      const auto op = static_cast<Op>(in_.next() % static_cast<std::uint8_t>(Op::count));
      apply(op);
    }
    backward();
  }

 private:
  // An operand: an earlier value, or (rarely) an empty handle or one of another tape.
  Var pick() {
    const std::uint8_t b = in_.next();
    if (b == 0xFF || values_.empty()) return Var{};
    if (b == 0xFE) return other_leaf_;
    return values_[b % values_.size()];
  }

  Mat matrix(Index rows, Index cols) {
    const std::uint8_t kind = in_.next();
    switch (kind % 4) {
      case 0: {
        std::mt19937_64 rng(kind);
        return ad::random_normal<double>(rows, cols, rng);
      }
      case 1:
        return Mat::Identity(rows, cols) * 2.0 + Mat::Constant(rows, cols, 0.25);
      case 2:
        return Mat::Constant(rows, cols, in_.scalar());
      default: {
        Mat m(rows, cols);
        for (Index k = 0; k < m.size(); ++k) m(k) = in_.scalar();
        return m;
      }
    }
  }

  void make_leaf() {
    const Index rows = in_.next() % 7, cols = in_.next() % 7;
    const std::uint8_t kind = in_.next() % 3;
    Mat value = matrix(rows, cols);
    if (kind == 0) {
      keep(tape_.variable(value));
    } else if (kind == 1) {
      keep(tape_.constant(value));
    } else {
      keep(tape_.parameter(*parameter_));
    }
  }

  void keep(const Var& v) {
    // A value with a hostile dimension (even with no elements: 0 x 2^31-1 times its
    // transpose is a legitimate 2^62-element square) is not reused.
    if (!kept_dims(v.rows(), v.cols())) return;
    if (values_.size() < kMaxValues) {
      values_.push_back(v);
    } else {
      values_[in_.next() % kMaxValues] = v;
    }
  }

  void apply(Op op) {
    // AD_FUZZ_TRACE=1 prints each step as it runs (op number, tape size): for reading a finding.
    static const bool trace = std::getenv("AD_FUZZ_TRACE") != nullptr;
    if (trace)
      std::fprintf(stderr, "op %d (tape: %zu nodes)\n", static_cast<int>(op), tape_.size());
    const std::size_t nodes_before = tape_.size();
    try {
      record(op);
    } catch (const ad::Error& e) {
      ad_fuzz::expected(e);
      // check_finite's refusal comes after the op is recorded (docs/design.md, step 4), so
      // its node may stay on the tape.
      const bool after_recording =
          tape_.check_finite() && dynamic_cast<const ad::NumericError*>(&e) != nullptr;
      if (op != Op::clear && !after_recording && tape_.size() != nodes_before) {
        ad_fuzz::ScratchFile::fail(std::string("a refused op left nodes on the tape: ") + e.what());
      }
    }
  }

  Var operand() { return pick(); }

  void record(Op op) {
    switch (op) {
      case Op::leaf:
        return make_leaf();
      case Op::clear:
        // Every handle so far becomes stale: later ops on them must be refused.
        tape_.clear();
        return make_leaf();
      case Op::matmul: {
        Var a = operand(), b = operand();
        return keep(a * b);
      }
      case Op::transpose:
        return keep(transpose(operand()));
      case Op::affine: {
        Var a = operand();
        const double alpha = in_.scalar(), beta = in_.scalar();
        return keep(affine(a, alpha, beta));
      }
      case Op::add: {
        Var a = operand(), b = operand();
        return keep(a + b);
      }
      case Op::subtract: {
        Var a = operand(), b = operand();
        return keep(a - b);
      }
      case Op::hadamard: {
        Var a = operand(), b = operand();
        return keep(hadamard(a, b));
      }
      case Op::divide: {
        Var a = operand(), b = operand();
        return keep(a / b);
      }
      case Op::scalar_product: {
        Var a = operand();
        return keep(in_.scalar() * a);
      }
      case Op::negate:
        return keep(-operand());
      case Op::sigmoid:
        return keep(sigmoid(operand()));
      case Op::tanh:
        return keep(tanh(operand()));
      case Op::relu:
        return keep(relu(operand()));
      case Op::exp:
        return keep(exp(operand()));
      case Op::log:
        return keep(log(operand()));
      case Op::sqrt:
        return keep(sqrt(operand()));
      case Op::abs:
        return keep(abs(operand()));
      case Op::square:
        return keep(square(operand()));
      case Op::softplus:
        return keep(softplus(operand()));
      case Op::log_sigmoid:
        return keep(log_sigmoid(operand()));
      case Op::pow: {
        Var a = operand();
        return keep(pow(a, in_.scalar()));
      }
      case Op::clamp: {
        Var a = operand();
        const double lo = in_.scalar(), hi = in_.scalar();
        return keep(clamp(a, lo, hi));
      }
      case Op::sum:
        return keep(sum(operand()));
      case Op::mean:
        return keep(mean(operand()));
      case Op::sum_axis: {
        Var a = operand();
        return keep(sum(a, axis()));
      }
      case Op::mean_axis: {
        Var a = operand();
        return keep(mean(a, axis()));
      }
      case Op::max_axis: {
        Var a = operand();
        return keep(max(a, axis()));
      }
      case Op::trace:
        return keep(trace(operand()));
      case Op::inverse:
        return keep(inverse(operand()));
      case Op::det:
        return keep(det(operand()));
      case Op::logdet:
        return keep(logdet(operand()));
      case Op::solve: {
        Var a = operand(), b = operand();
        return keep(solve(a, b));
      }
      case Op::dot: {
        Var a = operand(), b = operand();
        return keep(dot(a, b));
      }
      case Op::outer: {
        Var a = operand(), b = operand();
        return keep(outer(a, b));
      }
      case Op::norm:
        return keep(norm(operand()));
      case Op::diag:
        return keep(diag(operand()));
      case Op::reshape: {
        Var a = operand();
        const Index rows = in_.size(), cols = in_.size();
        return keep(reshape(a, rows, cols));
      }
      case Op::block: {
        Var a = operand();
        const Index i = in_.index(), j = in_.index(), rows = in_.size(), cols = in_.size();
        return keep(block(a, i, j, rows, cols));
      }
      case Op::row: {
        Var a = operand();
        return keep(row(a, in_.index()));
      }
      case Op::col: {
        Var a = operand();
        return keep(col(a, in_.index()));
      }
      case Op::hcat:
        return keep(ad::hcat(std::span<const Var>(parts())));
      case Op::vcat:
        return keep(ad::vcat(std::span<const Var>(parts())));
      case Op::broadcast_to: {
        Var a = operand();
        const Index rows = in_.size(), cols = in_.size();
        // A legitimate request of more than the harness's memory is not made (ASan's operator
        // new ends the run instead of throwing); one past the engine's 2^56-byte limit, or
        // with a negative size, must be refused.
        const bool refused = rows < 0 || cols < 0 ||
                             static_cast<unsigned __int128>(rows) *
                                     static_cast<unsigned __int128>(cols) * sizeof(double) >
                                 (static_cast<unsigned __int128>(1) << 56);
        if (!kept_dims(rows, cols) && !refused) return;
        return keep(broadcast_to(a, rows, cols));
      }
      case Op::softmax:
        return keep(softmax(operand()));
      case Op::log_softmax:
        return keep(log_softmax(operand()));
      case Op::softmax_cross_entropy: {
        Var z = operand(), p = operand();
        return keep(softmax_cross_entropy(z, p));
      }
      case Op::softmax_cross_entropy_labels: {
        Var z = operand();
        std::vector<int> labels(in_.next() % 8);
        for (int& label : labels) label = static_cast<int>(in_.index());
        return keep(softmax_cross_entropy(z, std::span<const int>(labels)));
      }
      case Op::binary_cross_entropy_with_logits: {
        Var z = operand(), p = operand();
        return keep(binary_cross_entropy_with_logits(z, p));
      }
      case Op::mse: {
        Var a = operand(), b = operand();
        return keep(mse(a, b));
      }
      case Op::count:
        break;
    }
  }

  ad::Axis axis() { return in_.next() & 1 ? ad::Axis::cols : ad::Axis::rows; }

  std::vector<Var> parts() {
    std::vector<Var> parts(in_.next() % 5);
    for (Var& part : parts) part = operand();
    return parts;
  }

  // From the last value: backward (after summing if it is not 1x1), then every gradient read.
  void backward() {
    if (values_.empty()) return;
    const Var output = values_.back();
    try {
      const Var y = output.rows() == 1 && output.cols() == 1 ? output : sum(output);
      tape_.backward(y);
    } catch (const ad::Error& e) {
      ad_fuzz::expected(e);
      return;
    }
    for (const Var& v : values_) {
      try {
        static_cast<void>(v.grad().sum());
      } catch (const ad::Error& e) {
        ad_fuzz::expected(e);
      }
    }
    static_cast<void>(parameter_->grad().sum());
  }

  Bytes in_;
  std::optional<ad::Parameter<double>> parameter_;  // declared before the tape: outlives it
  ad::Tape<double> tape_;
  ad::Tape<double> other_tape_;
  Var other_leaf_;
  std::vector<Var> values_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    Program(std::span(data, size)).run();
  } catch (const std::exception& e) {
    ad_fuzz::finding("expression program threw", e);
  }
  return 0;
}
