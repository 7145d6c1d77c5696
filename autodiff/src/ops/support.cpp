#include "support.hpp"

namespace ad::detail {

void reject_empty_input(const char* op, std::source_location where) {
  throw Error(
      fmt::format("{}: an empty (default-constructed) Var was used (at {})", op, to_string(where)));
}

void reject_no_inputs(const char* op, std::source_location where) {
  throw Error(fmt::format("{}: needs at least one input (at {})", op, to_string(where)));
}

void reject_first_order_only(const char* op, std::source_location where) {
  throw Error(fmt::format(
      "{}: this custom op has no second-order rule, so second derivatives through it are not "
      "available; declare `static constexpr bool second_order = true;` in the op once its value "
      "and adjoint rules hold on ad::Dual<double> (docs/second-order.md) (at {})",
      op, to_string(where)));
}

void reject_shapes(const char* op, std::span<const Shape> shapes, const std::string& why,
                   std::source_location where) {
  throw ShapeError(op, shapes, why, where);
}

Shape broadcast_shape(const char* op, Shape a, Shape b, std::source_location where) {
  auto fit = [](Eigen::Index m, Eigen::Index n) { return m == n || m == 1 || n == 1; };
  if (!fit(a.rows, b.rows) || !fit(a.cols, b.cols)) {
    throw ShapeError(
        op, a, b, "each dimension must be equal or 1 in one of them (NumPy broadcasting)", where);
  }
  auto stretched = [](Eigen::Index m, Eigen::Index n) { return m == 1 ? n : m; };
  return {stretched(a.rows, b.rows), stretched(a.cols, b.cols)};
}

}  // namespace ad::detail
