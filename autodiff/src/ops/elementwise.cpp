// Elementwise functions of one matrix.

#include "support.hpp"

#include <utility>

namespace ad {
namespace {

// An elementwise op as functions of its operands: value_of(A) gives C, adjoint_of(A, C, C̄)
// the contribution to Ā; each takes Eigen arrays, and value_of also single elements.
//
// Operands of at most four elements (the seeds' 2x1 activations) are computed element by
// element, unrolled at compile time, without the alignment and peeling arithmetic of a
// dynamic size (it cost a 2x1 sigmoid more than its elements). Values use the scalar
// functions: Eigen's vectorised exp has a longer latency than two calls to the C library's,
// and the value is on the critical path of a chain of layers (the 2x2 chain took 15 %
// longer with it). Adjoints go element by element too: what they read was just stored one
// element at a time (by the scalar functions, by the tiny product kernels), and the CPU
// cannot forward two stores into one vector load, so a vectorised 2x1 sigmoid adjoint
// waited for its inputs to reach the cache.
template <class F, class T>
struct Elementwise {
  static void value(const Rule<T>& r) {
    with_fixed_size(r.y().size(), [&](auto n) {
      if constexpr (n == Eigen::Dynamic) {
        array<n>(r.y()) = F::value_of(array<n>(r.x(0)));
      } else {
        array<n>(r.y()) = array<n>(r.x(0)).unaryExpr([](T a) { return F::value_of(a); });
      }
    });
  }
  static void adjoint(const Rule<T>& r) {
    auto [xbar, written] = detail::OpAccess<T>::slot(r, 0);
    const auto a = r.x(0);
    const auto c = r.y();
    const auto cbar = r.ybar();
    with_fixed_size(xbar.size(), [&](auto n) {
      if constexpr (n == Eigen::Dynamic) {
        adjoint_of_any_size(r, written, xbar);
      } else {
        // Written out element by element, not as a loop, which GCC's loop vectoriser would
        // turn back into vector loads (the library is built without its straight-line one).
        [&]<int... I>(std::integer_sequence<int, I...>) {
          (assign_or_add(written, element(xbar, I),
                         F::adjoint_of(element(a, I), element(c, I), element(cbar, I))),
           ...);
        }
        (std::make_integer_sequence<int, n>());
      }
    });
  }

  // Out of line: the vectorised loops' stack frame cost the tiny adjoints (each set it up)
  // 5 % of the seed network's gradient.
  [[gnu::noinline]] static void adjoint_of_any_size(const Rule<T>& r, bool written,
                                                    Eigen::Map<Matrix<T>> xbar) {
    constexpr int n = Eigen::Dynamic;
    assign_or_add(written, array<n>(xbar),
                  F::adjoint_of(array<n>(r.x(0)), array<n>(r.y()), array<n>(r.ybar())));
  }

  // Calls f(n) with n = std::integral_constant<int, size> for sizes 1 to 4, else with
  // n = Eigen::Dynamic.
  template <class G>
  static void with_fixed_size(Eigen::Index size, G f) {
    switch (size) {
      case 1:
        return f(std::integral_constant<int, 1>());
      case 2:
        return f(std::integral_constant<int, 2>());
      case 3:
        return f(std::integral_constant<int, 3>());
      case 4:
        return f(std::integral_constant<int, 4>());
      default:
        return f(std::integral_constant<int, Eigen::Dynamic>());
    }
  }
  // x̄ += e, or x̄ = e for its first contribution in the sweep: Rule::accumulate's rule, for
  // the column arrays this adaptor works on (accumulate assigns to the adjoint's own shape,
  // which a column array matches only for column vectors), once the caller holds the slot.
  template <class X, class E>
  static void assign_or_add(bool written, X&& xbar, const E& e) {
    if (written) {
      xbar += e;
    } else {
      xbar = e;
    }
  }
  // Element i of a node's value or adjoint, as an array of one element.
  template <class M>
  static auto element(M m, int i) {
    return array<1>(M(m.data() + i, 1, 1));
  }
  // A node's value or adjoint as a column array of N elements (N may be Eigen::Dynamic).
  template <int N>
  static Eigen::Map<Eigen::Array<T, N, 1>> array(Eigen::Map<Matrix<T>> m) {
    return {m.data(), m.size()};
  }
  template <int N>
  static Eigen::Map<const Eigen::Array<T, N, 1>> array(Eigen::Map<const Matrix<T>> m) {
    return {m.data(), m.size()};
  }
};

// (In value_of, `using std::f` makes f(a) the C library's function for an element and,
// found by argument-dependent lookup, Eigen's for an array.)

template <class T>
struct Sigmoid : Elementwise<Sigmoid<T>, T> {
  static constexpr OpInfo info{.name = "sigmoid",
                               .value = "C = σ(A) = 1 / (1 + e^−A)",
                               .adjoint = "Ā += C̄ ⊙ C ⊙ (1 − C)",
                               .domain = "total"};
  static auto value_of(const auto& a) {
    using std::exp;
    return T(1) / (T(1) + exp(-a));
  }
  static auto adjoint_of(const auto&, const auto& c, const auto& cbar) {
    return cbar * c * (T(1) - c);
  }
};

template <class T>
struct Tanh : Elementwise<Tanh<T>, T> {
  static constexpr OpInfo info{
      .name = "tanh", .value = "C = tanh A", .adjoint = "Ā += C̄ ⊙ (1 − C ⊙ C)", .domain = "total"};
  static auto value_of(const auto& a) {
    using std::tanh;
    return tanh(a);
  }
  static auto adjoint_of(const auto&, const auto& c, const auto& cbar) {
    return cbar * (T(1) - c * c);
  }
};

template <class T>
struct Relu : Elementwise<Relu<T>, T> {
  static constexpr OpInfo info{.name = "relu",
                               .value = "C = max(A, 0)",
                               .adjoint = "Ā += C̄ ⊙ [A > 0]",
                               .domain = "total; subgradient 0 at 0"};
  static T value_of(T a) { return a > T(0) ? a : T(0); }
  static auto value_of(const auto& a) { return a.max(T(0)); }
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar) {
    return (a > T(0)).select(cbar, T(0));
  }
};

template <class T>
struct Exp : Elementwise<Exp<T>, T> {
  static constexpr OpInfo info{.name = "exp",
                               .value = "C = e^A",
                               .adjoint = "Ā += C̄ ⊙ C",
                               .domain = "IEEE (overflow to Inf above ~709 in double)"};
  static auto value_of(const auto& a) {
    using std::exp;
    return exp(a);
  }
  static auto adjoint_of(const auto&, const auto& c, const auto& cbar) { return cbar * c; }
};

template <class T>
struct Log : Elementwise<Log<T>, T> {
  static constexpr OpInfo info{.name = "log",
                               .value = "C = ln A",
                               .adjoint = "Ā += C̄ ⊘ A",
                               .domain = "IEEE (ln 0 = −Inf, ln of a negative is NaN)"};
  static auto value_of(const auto& a) {
    using std::log;
    return log(a);
  }
  static auto adjoint_of(const auto& a, const auto&, const auto& cbar) { return cbar / a; }
};

}  // namespace

template <class T>
Var<T> sigmoid(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Sigmoid<T>>("sigmoid", a, where);
}

template <class T>
Var<T> tanh(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Tanh<T>>("tanh", a, where);
}

template <class T>
Var<T> relu(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Relu<T>>("relu", a, where);
}

template <class T>
Var<T> exp(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Exp<T>>("exp", a, where);
}

template <class T>
Var<T> log(const Var<T>& a, std::source_location where) {
  return detail::elementwise<Log<T>>("log", a, where);
}

template Var<float> sigmoid(const Var<float>&, std::source_location);
template Var<double> sigmoid(const Var<double>&, std::source_location);
template Var<float> tanh(const Var<float>&, std::source_location);
template Var<double> tanh(const Var<double>&, std::source_location);
template Var<float> relu(const Var<float>&, std::source_location);
template Var<double> relu(const Var<double>&, std::source_location);
template Var<float> exp(const Var<float>&, std::source_location);
template Var<double> exp(const Var<double>&, std::source_location);
template Var<float> log(const Var<float>&, std::source_location);
template Var<double> log(const Var<double>&, std::source_location);

namespace detail {
std::span<const OpInfo> elementwise_ops() {
  static constexpr OpInfo rows[] = {Sigmoid<double>::info, Tanh<double>::info, Relu<double>::info,
                                    Exp<double>::info, Log<double>::info};
  return rows;
}
}  // namespace detail

}  // namespace ad
