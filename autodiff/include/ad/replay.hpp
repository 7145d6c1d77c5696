#pragma once
// Record once, evaluate many times: a function of matrices recorded on a tape of its own,
// then evaluated again for new input values without recording again.
//
//   auto f = ad::record<double>(
//       [](std::span<const ad::Var<double>> x) { return sum(sigmoid(x[0] * x[1])); }, {W, X});
//   f.gradient({W2, X2});          // the value, and one backward sweep
//   Matrix<double> dW = f.grad(0);
//
// An evaluation binds each input to the caller's matrix (no copy when its columns are
// contiguous), runs every op's value rule again in recording order and, for gradient() and
// vjp(), one backward sweep: no node is built, no shape checked again, no name record
// written, and the tape takes no new memory. Parameters recorded by the function are read
// by reference, as on any tape, so an optimiser's step is seen by the next evaluation.
//
// What a recording freezes (docs/replay.md): the graph. Every op computes its value and its
// adjoint from the new inputs, branches inside ops included (relu, abs, clamp, max, the
// pivots of an LU factorisation); but the function's own control flow (an `if` on a value,
// a loop run until a value converges) and constants it computed from values while it was
// recorded are those of the recording. The checked mode (RecordOptions::checked) records
// the function again at each evaluation and throws ad::Error at the first node where the
// fresh graph differs from the recorded one, by op, shape or value.

#include <ad/tape.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <source_location>
#include <span>
#include <vector>

namespace ad {

struct RecordOptions {
  // The inputs that receive gradients, by position. Unset: every input; an empty list: none
  // (only the parameters the function records, as when training).
  std::optional<std::vector<std::size_t>> wrt = std::nullopt;
  // Records the function again at each evaluation and compares (for debugging: as slow as
  // not replaying at all).
  bool checked = false;
};

template <class T>
class Recording {
 public:
  using Function = std::function<Var<T>(std::span<const Var<T>>)>;
  using Inputs = std::span<const Eigen::Ref<const Matrix<T>>>;

  // Records fn at `inputs` on the recording's own tape. Throws what fn throws, and ad::Error
  // for a position in options.wrt that is not an input.
  Recording(Function fn, Inputs inputs, RecordOptions options = {},
            std::source_location where = std::source_location::current());

  // f(inputs), for new input values. An ad::ShapeError if an input's shape is not the one
  // recorded; what an op's value rule throws (ad::NumericError for a singular matrix, for
  // check_finite) otherwise.
  Eigen::Map<const Matrix<T>> value(std::initializer_list<Eigen::Ref<const Matrix<T>>> inputs);
  Eigen::Map<const Matrix<T>> value(std::span<const Matrix<T>> inputs);
  // f(inputs) (1x1) and its gradient by one backward sweep: grad(k) for the inputs in `wrt`;
  // parameters' gradients accumulate as with Tape::backward.
  Eigen::Map<const Matrix<T>> gradient(std::initializer_list<Eigen::Ref<const Matrix<T>>> inputs);
  Eigen::Map<const Matrix<T>> gradient(std::span<const Matrix<T>> inputs);
  // gradient(inputs) whose sweep calls passed(i) as it goes past node i of tape()
  // (Tape::backward_reporting); an empty passed is gradient(inputs).
  Eigen::Map<const Matrix<T>> gradient(std::initializer_list<Eigen::Ref<const Matrix<T>>> inputs,
                                       const std::function<void(std::uint32_t)>& passed);
  // f(inputs) and the vector-Jacobian product seedᵀJ (seed shaped like f's value): grad(k).
  Eigen::Map<const Matrix<T>> vjp(std::initializer_list<Eigen::Ref<const Matrix<T>>> inputs,
                                  const Eigen::Ref<const Matrix<T>>& seed);
  Eigen::Map<const Matrix<T>> vjp(std::span<const Matrix<T>> inputs,
                                  const Eigen::Ref<const Matrix<T>>& seed);

  // Input k's gradient from the latest gradient() or vjp(); an ad::Error for an input that
  // gets none (see RecordOptions::wrt).
  Eigen::Map<const Matrix<T>> grad(std::size_t k) const;
  // The recorded output; nodes the function recorded (a Var it kept) hold the values of the
  // latest evaluation.
  Var<T> output() const { return output_; }
  std::size_t inputs() const { return inputs_.size(); }
  // The recording's tape: check_finite(true) applies to evaluations; size(), arena_bytes().
  Tape<T>& tape() { return *tape_; }

 private:
  // Points input k's node at m (or copies m into the node's own storage when m's columns are
  // strided); the guard points every input back at its own storage when the call ends, so
  // that no node refers to the caller's memory between calls.
  template <class List>
  void bind(const List& inputs, const char* op);
  void bind_one(std::size_t k, const Eigen::Ref<const Matrix<T>>& m, const char* op);
  void release() noexcept;
  template <class List>
  Eigen::Map<const Matrix<T>> evaluate(const List& inputs, const Eigen::Ref<const Matrix<T>>* seed,
                                       bool differentiate, const char* op,
                                       const std::function<void(std::uint32_t)>* passed = nullptr);
  void compare_with_fresh_recording() const;

  Function fn_;
  std::unique_ptr<Tape<T>> tape_;
  std::vector<Var<T>> inputs_;
  std::vector<T*> own_;  // each input node's own storage
  Var<T> output_;
  bool checked_ = false;
  std::source_location where_;
};

// ad::Recording<T>(fn, inputs, options), with the inputs as a braced list or a vector.
template <class T, class F>
Recording<T> record(F&& fn, std::initializer_list<Eigen::Ref<const Matrix<T>>> inputs,
                    RecordOptions options = {},
                    std::source_location where = std::source_location::current()) {
  return Recording<T>(std::forward<F>(fn), {inputs.begin(), inputs.size()}, std::move(options),
                      where);
}
template <class T, class F>
Recording<T> record(F&& fn, const std::vector<Matrix<T>>& inputs, RecordOptions options = {},
                    std::source_location where = std::source_location::current()) {
  const std::vector<Eigen::Ref<const Matrix<T>>> refs(inputs.begin(), inputs.end());
  return Recording<T>(std::forward<F>(fn), refs, std::move(options), where);
}

extern template class Recording<float>;
extern template class Recording<double>;

}  // namespace ad
