#pragma once
// A trainable matrix that outlives any tape: it owns its value and its gradient. A tape
// records it by reference (Tape::parameter) and never copies it; each backward sweep adds
// into grad(), which accumulates until zero_grad().
//
// zero_grad() writes nothing: it marks the gradient as zero, and the zeros are written only if
// grad() is read before a backward sweep reaches the parameter. A sweep that does assigns its
// first contribution instead of adding it to zeros, so a training step passes over each
// gradient once, not three times (clear, then read and write).

#include <ad/config.hpp>

#include <string>
#include <utility>
#include <vector>

namespace ad {

template <class T>
class Tape;

template <class T>
class Parameter {
 public:
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

  explicit Parameter(Matrix value, std::string name = {})
      : value_(std::move(value)),
        grad_(Matrix::Zero(value_.rows(), value_.cols())),
        name_(std::move(name)) {}
  // A tape that records a parameter refers to it until the tape is cleared: destroying (or
  // moving from) it before then is a precondition violation, which debug builds report as an
  // ad::Error at the tape's next use. A copy or a moved-to parameter is recorded by no tape.
#ifdef AD_DEBUG_CHECKS
  Parameter(const Parameter& other)
      : value_(other.value_),
        grad_(other.grad_),
        grad_is_zero_(other.grad_is_zero_),
        name_(other.name_) {}
  Parameter(Parameter&& other)
      : value_(std::move(other.value_)),
        grad_(std::move(other.grad_)),
        grad_is_zero_(other.grad_is_zero_),
        name_(std::move(other.name_)) {}
  Parameter& operator=(const Parameter& other) { return *this = Parameter(other); }
  Parameter& operator=(Parameter&& other) {
    value_ = std::move(other.value_);
    grad_ = std::move(other.grad_);
    grad_is_zero_ = other.grad_is_zero_;
    name_ = std::move(other.name_);
    return *this;
  }
  ~Parameter();
#endif

  // The value may be updated in place (an optimiser step); its shape must not change
  // while a tape refers to it.
  Matrix& value() { return value_; }
  const Matrix& value() const { return value_; }
  Matrix& grad() { return materialized_grad(); }
  const Matrix& grad() const { return materialized_grad(); }
  void zero_grad() { grad_is_zero_ = true; }

  Eigen::Index rows() const { return value_.rows(); }
  Eigen::Index cols() const { return value_.cols(); }
  Eigen::Index size() const { return value_.size(); }
  const std::string& name() const { return name_; }

 private:
  friend class Tape<T>;
  Matrix& materialized_grad() const {
    if (grad_is_zero_) {
      grad_.setZero();
      grad_is_zero_ = false;
    }
    return grad_;
  }

  Matrix value_;
  mutable Matrix grad_;  // stale while grad_is_zero_
  mutable bool grad_is_zero_ = false;
  std::string name_;
#ifdef AD_DEBUG_CHECKS
  // The tapes whose current recording refers to this parameter; kept by Tape under a lock,
  // and its capacity kept across recordings so that re-recording allocates nothing.
  std::vector<void*> recorded_by_;
#endif
};

}  // namespace ad
