// Elementwise functions of one matrix.

#include "support.hpp"

namespace ad {
namespace {

// C = σ(A) = 1 / (1 + e^−A)     Ā += C̄ ⊙ C ⊙ (1 − C)
template <class T>
struct Sigmoid {
  static void value(const Rule<T>& r) { r.y().array() = T(1) / (T(1) + (-r.x(0).array()).exp()); }
  static void adjoint(const Rule<T>& r) {
    auto c = r.y().array();
    r.accumulate(0, r.ybar().array() * c * (T(1) - c));
  }
};

// C = tanh(A)                   Ā += C̄ ⊙ (1 − C ⊙ C)
template <class T>
struct Tanh {
  static void value(const Rule<T>& r) { r.y().array() = r.x(0).array().tanh(); }
  static void adjoint(const Rule<T>& r) {
    auto c = r.y().array();
    r.accumulate(0, r.ybar().array() * (T(1) - c * c));
  }
};

// C = max(A, 0)                 Ā += C̄ ⊙ [A > 0]
template <class T>
struct Relu {
  static void value(const Rule<T>& r) { r.y().array() = r.x(0).array().max(T(0)); }
  static void adjoint(const Rule<T>& r) {
    r.accumulate(0, (r.x(0).array() > T(0)).select(r.ybar().array(), T(0)));
  }
};

// C = e^A                       Ā += C̄ ⊙ C
template <class T>
struct Exp {
  static void value(const Rule<T>& r) { r.y().array() = r.x(0).array().exp(); }
  static void adjoint(const Rule<T>& r) { r.accumulate(0, r.ybar().array() * r.y().array()); }
};

// C = ln A                      Ā += C̄ ⊘ A
template <class T>
struct Log {
  static void value(const Rule<T>& r) { r.y().array() = r.x(0).array().log(); }
  static void adjoint(const Rule<T>& r) { r.accumulate(0, r.ybar().array() / r.x(0).array()); }
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

}  // namespace ad
