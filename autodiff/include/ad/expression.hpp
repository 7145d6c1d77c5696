#pragma once
// An expression's readable form: the ops that lead to a value, with their shapes.
//
//   fmt::print("{}\n", ad::expression(y));
//   t0 = matmul(x0:2x3, x1:3x2):2x2
//   sum(hadamard(t0, t0):2x2):1x1
//
// Leaves are named by kind and tape order (x: variable, p: parameter, c: constant) and
// shown with their shape at each use; an intermediate used more than once is named tK and
// defined on a line of its own before its first use, so shared subexpressions print once.

#include <ad/tape.hpp>

#include <fmt/format.h>

#include <string>

namespace ad {

template <class T>
struct Expression {
  Var<T> output;
};

template <class T>
Expression<T> expression(const Var<T>& output) {
  return {output};
}

template <class T>
std::string to_string(const Expression<T>& e);

}  // namespace ad

template <class T>
struct fmt::formatter<ad::Expression<T>> : fmt::formatter<std::string> {
  template <class Ctx>
  auto format(const ad::Expression<T>& e, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(ad::to_string(e), ctx);
  }
};
