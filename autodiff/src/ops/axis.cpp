// Reductions along one axis, keeping 2-D shapes. The node's constant 0 holds the axis
// (0: Axis::rows, down the rows to 1 x n; 1: Axis::cols, across the columns to m x 1).

#include "support.hpp"

namespace ad {
namespace {

template <class T>
bool down_rows(const Rule<T>& r) {
  return r.constant(0) == T(0);
}

// c = 𝟙ᵀA or A𝟙                 Ā += 𝟙c̄ or c̄𝟙ᵀ
template <class T>
struct SumAxis {
  static void value(const Rule<T>& r) {
    if (down_rows(r)) {
      r.y() = r.x(0).colwise().sum();
    } else {
      r.y() = r.x(0).rowwise().sum();
    }
  }
  static void adjoint(const Rule<T>& r) {
    auto abar = r.xbar(0);
    abar += detail::expand(r.ybar(), abar.rows(), abar.cols());
  }
};

// c = 𝟙ᵀA / m or A𝟙 / n         Ā += 𝟙c̄ / m or c̄𝟙ᵀ / n
template <class T>
struct MeanAxis {
  static void value(const Rule<T>& r) {
    if (down_rows(r)) {
      r.y() = r.x(0).colwise().mean();
    } else {
      r.y() = r.x(0).rowwise().mean();
    }
  }
  static void adjoint(const Rule<T>& r) {
    auto abar = r.xbar(0);
    const auto count = static_cast<T>(down_rows(r) ? abar.rows() : abar.cols());
    abar += detail::expand(r.ybar(), abar.rows(), abar.cols()) / count;
  }
};

// cⱼ = maxᵢ Aᵢⱼ (or per row)      Āᵢⱼ += c̄ⱼ at the first i attaining the max
template <class T>
struct MaxAxis {
  static void value(const Rule<T>& r) {
    if (down_rows(r)) {
      r.y() = r.x(0).colwise().maxCoeff();
    } else {
      r.y() = r.x(0).rowwise().maxCoeff();
    }
  }
  static void adjoint(const Rule<T>& r) {
    auto a = r.x(0);
    auto abar = r.xbar(0);
    Eigen::Index at = 0;
    if (down_rows(r)) {
      for (Eigen::Index j = 0; j < a.cols(); ++j) {
        a.col(j).maxCoeff(&at);
        abar(at, j) += r.ybar()(0, j);
      }
    } else {
      for (Eigen::Index i = 0; i < a.rows(); ++i) {
        a.row(i).maxCoeff(&at);
        abar(i, at) += r.ybar()(i, 0);
      }
    }
  }
};

// The reduced shape; a ShapeError if the reduced dimension is empty and the op needs it.
template <class T>
Shape reduced(const char* op, const Var<T>& a, Axis axis, bool needs_elements,
              std::source_location where) {
  const Eigen::Index length = axis == Axis::rows ? a.rows() : a.cols();
  if (needs_elements && length == 0) {
    throw ShapeError(op, a.shape(),
                     fmt::format("the {} of an empty {} is undefined", op,
                                 axis == Axis::rows ? "column" : "row"),
                     where);
  }
  return axis == Axis::rows ? Shape{1, a.cols()} : Shape{a.rows(), 1};
}

template <class Op, class T>
Var<T> along(const char* name, const Var<T>& a, Axis axis, bool needs_elements,
             std::source_location where) {
  Tape<T>& tape = detail::tape_of(name, where, a);
  const Shape shape = reduced(name, a, axis, needs_elements, where);
  return detail::record<Op>(tape, name, {a}, shape, where,
                            {axis == Axis::rows ? T(0) : T(1), T(0)});
}

}  // namespace

template <class T>
Var<T> sum(const Var<T>& a, Axis axis, std::source_location where) {
  return along<SumAxis<T>>("sum", a, axis, false, where);
}

template <class T>
Var<T> mean(const Var<T>& a, Axis axis, std::source_location where) {
  return along<MeanAxis<T>>("mean", a, axis, true, where);
}

template <class T>
Var<T> max(const Var<T>& a, Axis axis, std::source_location where) {
  return along<MaxAxis<T>>("max", a, axis, true, where);
}

template Var<float> sum(const Var<float>&, Axis, std::source_location);
template Var<double> sum(const Var<double>&, Axis, std::source_location);
template Var<float> mean(const Var<float>&, Axis, std::source_location);
template Var<double> mean(const Var<double>&, Axis, std::source_location);
template Var<float> max(const Var<float>&, Axis, std::source_location);
template Var<double> max(const Var<double>&, Axis, std::source_location);

}  // namespace ad
