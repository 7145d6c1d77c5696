// Reductions along one axis, keeping 2-D shapes. Each op saves its axis (Axis::rows: down
// the rows to 1 x n; Axis::cols: across the columns to m x 1).

#include "support.hpp"

namespace ad {
namespace {

// The saved state of sum and mean along an axis.
struct AlongAxis {
  Axis axis;
};

template <class T>
bool down_rows(const Rule<T, AlongAxis>& r) {
  return r.saved().axis == Axis::rows;
}

template <class T>
struct SumAxis {
  static constexpr OpInfo info{
      .name = "sum",
      .also = "along an axis: `Axis::rows` gives 1 x n, `Axis::cols` m x 1",
      .value = "c = 𝟙ᵀA or A𝟙",
      .adjoint = "Ā += 𝟙c̄ or c̄𝟙ᵀ",
      .domain = "total"};
  using Saved = AlongAxis;
  static void value(const Rule<T, Saved>& r) {
    if (down_rows(r)) {
      r.y() = r.x(0).colwise().sum();
    } else {
      r.y() = r.x(0).rowwise().sum();
    }
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const auto a = r.x(0);
    r.accumulate(0, detail::expand(r.ybar(), a.rows(), a.cols()));
  }
  // 𝟙 c̄ or c̄ 𝟙ᵀ
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    return stretch(s.ybar(), s.x(0).shape());
  }
};

template <class T>
struct MeanAxis {
  static constexpr OpInfo info{.name = "mean",
                               .also = "along an axis",
                               .value = "c = 𝟙ᵀA / m or A𝟙 / n",
                               .adjoint = "Ā += 𝟙c̄ / m or c̄𝟙ᵀ / n",
                               .domain = "ShapeError for an empty reduced dimension"};
  using Saved = AlongAxis;
  static void value(const Rule<T, Saved>& r) {
    if (down_rows(r)) {
      r.y() = r.x(0).colwise().mean();
    } else {
      r.y() = r.x(0).rowwise().mean();
    }
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const auto a = r.x(0);
    const auto count = static_cast<T>(down_rows(r) ? a.rows() : a.cols());
    r.accumulate(0, detail::expand(r.ybar(), a.rows(), a.cols()) / count);
  }
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const Shape a = s.x(0).shape();
    const auto count = static_cast<T>(s.saved().axis == Axis::rows ? a.rows : a.cols);
    return (T(1) / count) * stretch(s.ybar(), a);
  }
};

template <class T>
struct MaxAxis {
  static constexpr OpInfo info{.name = "max",
                               .also = "per column with `Axis::rows`, per row with `Axis::cols`",
                               .value = "cⱼ = maxᵢ Aᵢⱼ",
                               .adjoint = "Āᵢⱼ += c̄ⱼ at the first i attaining the max",
                               .domain =
                                   "subgradient: on a tie the whole adjoint goes to the first "
                                   "maximal element; ShapeError if empty"};
  struct Saved {
    Axis axis;
    Eigen::Index* at = nullptr;  // where each max was found, saved by the value rule
  };
  static void value(const Rule<T, Saved>& r) {
    Saved& s = r.saved();
    auto a = r.x(0);
    auto c = r.y();
    s.at = r.template allocate<Eigen::Index>(static_cast<std::size_t>(c.size()));
    if (s.axis == Axis::rows) {
      for (Eigen::Index j = 0; j < a.cols(); ++j) c(0, j) = a.col(j).maxCoeff(&s.at[j]);
    } else {
      for (Eigen::Index i = 0; i < a.rows(); ++i) c(i, 0) = a.row(i).maxCoeff(&s.at[i]);
    }
  }
  static void adjoint(const Rule<T, Saved>& r) {
    const Saved& s = r.saved();
    auto abar = r.xbar(0);
    auto cbar = r.ybar();
    if (s.axis == Axis::rows) {
      for (Eigen::Index j = 0; j < cbar.cols(); ++j) abar(s.at[j], j) += cbar(0, j);
    } else {
      for (Eigen::Index i = 0; i < cbar.rows(); ++i) abar(i, s.at[i]) += cbar(i, 0);
    }
  }
  // [A = max] ⊙ 𝟙 c̄: the 0/1 matrix of the first maximum of each column (row), from A alone.
  static Expr<T> symbolic(const Symbolic<T, Saved>& s, int) {
    const bool columns = s.saved().axis == Axis::rows;
    const Expr<T> first_max =
        map<T>(columns ? "[{} = colmax]" : "[{} = rowmax]", s.x(0), s.x(0).shape(),
               [columns](const Matrix<T>& a) {
                 Matrix<T> m = Matrix<T>::Zero(a.rows(), a.cols());
                 Eigen::Index at = 0;
                 for (Eigen::Index k = 0; k < (columns ? a.cols() : a.rows()); ++k) {
                   if (columns) {
                     a.col(k).maxCoeff(&at);
                     m(at, k) = 1;
                   } else {
                     a.row(k).maxCoeff(&at);
                     m(k, at) = 1;
                   }
                 }
                 return m;
               });
    return hadamard(first_max, stretch(s.ybar(), s.x(0).shape()));
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
  return detail::record<Op>(tape, name, {a}, shape, where, typename Op::Saved{axis});
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

#define AD_AXIS(T)                                                 \
  template Var<T> sum(const Var<T>&, Axis, std::source_location);  \
  template Var<T> mean(const Var<T>&, Axis, std::source_location); \
  template Var<T> max(const Var<T>&, Axis, std::source_location);
AD_INSTANTIATE_OPS(AD_AXIS)
#undef AD_AXIS

#ifndef AD_DUAL_INSTANCES
namespace detail {
std::span<const OpInfo> axis_ops() {
  static constexpr OpInfo rows[] = {SumAxis<double>::info, MeanAxis<double>::info,
                                    MaxAxis<double>::info};
  return rows;
}
}  // namespace detail
#endif

}  // namespace ad
