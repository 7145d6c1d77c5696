#pragma once
// The one way elementwise functions of one matrix are written (elementwise.cpp, math.cpp).

#include "support.hpp"

#include <utility>

namespace ad::detail {

// An elementwise op as functions of its operands: value_of(A) gives C, adjoint_of(A, C, C̄)
// the contribution to Ā; each takes Eigen arrays, and value_of also single elements. An op
// with Saved state (pow's p, clamp's bounds) gets it as a last argument of both. In value_of,
// `using std::f` makes f(a) the C library's function for an element and, found by
// argument-dependent lookup, Eigen's for an array.
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
  // R is the Rule the engine passes: Rule<T, F::Saved> for an op with Saved state.
  template <class R>
  static void value(const R& r) {
    if constexpr (is_dual<T>) {
      value_with_tangent(r);
    } else {
      with_fixed_size(r.y().size(), [&](auto n) {
        if constexpr (n == Eigen::Dynamic) {
          array<n>(r.y()) = value_of(array<n>(r.x(0)), r);
        } else {
          array<n>(r.y()) = array<n>(r.x(0)).unaryExpr([&](T a) { return value_of(a, r); });
        }
      });
    }
  }
  template <class R>
  static void adjoint(const R& r) {
    auto [xbar, written] = OpAccess<T>::slot(r, 0);
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
                         adjoint_of(element(a, I), element(c, I), element(cbar, I), r)),
           ...);
        }
        (std::make_integer_sequence<int, n>());
      }
    });
  }

  // Out of line: the vectorised loops' stack frame cost the tiny adjoints (each set it up)
  // 5 % of the seed network's gradient.
  template <class R>
  [[gnu::noinline]] static void adjoint_of_any_size(const R& r, bool written,
                                                    Eigen::Map<Matrix<T>> xbar) {
    constexpr int n = Eigen::Dynamic;
    assign_or_add(written, array<n>(xbar),
                  adjoint_of(array<n>(r.x(0)), array<n>(r.y()), array<n>(r.ybar()), r));
  }

  // On dual numbers the tangent of C, Ċ = f′(A) ⊙ Ȧ, is the op's adjoint rule applied to
  // C̄ = Ȧ at the values: so a non-smooth op's tangent follows the subgradient its adjoint
  // documents (relu′(0) = 0), where the value's formula may branch the other way (the
  // max(A, 0) of softplus at 0).
  template <class R>
  static void value_with_tangent(const R& r) {
    using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
    const auto a = array<Eigen::Dynamic>(r.x(0));
    const Array values = a.unaryExpr([](const T& x) { return T(x.value); });
    const Array tangents = a.unaryExpr([](const T& x) { return T(x.tangent); });
    auto c = array<Eigen::Dynamic>(r.y());
    c = value_of(values, r);
    const Array dc = adjoint_of(values, c, tangents, r);
    c = c.binaryExpr(dc, [](const T& v, const T& t) { return T(v.value, t.value); });
  }

  // F's rules, given its Saved state if it has one.
  template <class X, class R>
  static auto value_of(const X& a, const R& r) {
    if constexpr (requires { r.saved(); }) {
      return F::value_of(a, r.saved());
    } else {
      return F::value_of(a);
    }
  }
  template <class A, class C, class Cbar, class R>
  static auto adjoint_of(const A& a, const C& c, const Cbar& cbar, const R& r) {
    if constexpr (requires { r.saved(); }) {
      return F::adjoint_of(a, c, cbar, r.saved());
    } else {
      return F::adjoint_of(a, c, cbar);
    }
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
  [[gnu::always_inline]] static void assign_or_add(bool written, X&& xbar, const E& e) {
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

}  // namespace ad::detail
