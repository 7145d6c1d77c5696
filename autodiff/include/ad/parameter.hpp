#pragma once
// A trainable matrix that outlives any tape: it owns its value and its gradient. A tape
// records it by reference (Tape::parameter) and never copies it; each backward sweep adds
// into grad(), which accumulates until zero_grad().

#include <ad/config.hpp>

#include <string>
#include <utility>

namespace ad {

template <class T>
class Parameter {
 public:
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

  explicit Parameter(Matrix value, std::string name = {})
      : value_(std::move(value)), grad_(Matrix::Zero(value_.rows(), value_.cols())),
        name_(std::move(name)) {}

  // The value may be updated in place (an optimiser step); its shape must not change
  // while a tape refers to it.
  Matrix& value() { return value_; }
  const Matrix& value() const { return value_; }
  Matrix& grad() { return grad_; }
  const Matrix& grad() const { return grad_; }
  void zero_grad() { grad_.setZero(); }

  Eigen::Index rows() const { return value_.rows(); }
  Eigen::Index cols() const { return value_.cols(); }
  Eigen::Index size() const { return value_.size(); }
  const std::string& name() const { return name_; }

 private:
  Matrix value_;
  Matrix grad_;
  std::string name_;
};

}  // namespace ad
