#include "catalog.hpp"

#include <fmt/format.h>

#include <utility>

namespace ad_test {
namespace {

using ad::Shape;
using ShapePair = std::pair<Shape, Shape>;

// The shapes every op that takes any shape is checked on: a scalar, a row, a column and a
// non-square matrix. Functions, not globals: the family tests register their cases while
// other files' globals may not be initialised yet.
std::vector<Shape> unary_shapes() { return {{1, 1}, {1, 5}, {5, 1}, {3, 4}}; }
std::vector<Shape> small_shapes() { return {{1, 1}, {1, 4}, {4, 1}, {2, 3}}; }
std::vector<Shape> square_shapes() { return {{1, 1}, {2, 2}, {4, 4}}; }
std::vector<Shape> loss_shapes() { return {{1, 1}, {1, 5}, {4, 1}, {3, 2}, {2, 7}, {10, 3}}; }

// Shapes for broadcasting ops: equal, a row or a column or a scalar stretched, and both
// stretched at once (a column against a row).
std::vector<ShapePair> broadcast_shapes() {
  return {{{1, 1}, {1, 1}}, {{1, 5}, {1, 5}}, {{5, 1}, {5, 1}}, {{3, 4}, {3, 4}}, {{3, 4}, {1, 4}},
          {{3, 4}, {3, 1}}, {{3, 4}, {1, 1}}, {{1, 1}, {3, 4}}, {{1, 4}, {3, 4}}, {{3, 1}, {1, 4}}};
}

std::vector<Sample> each(const std::vector<Shape>& shapes, Domain domain = Domain::any) {
  std::vector<Sample> samples;
  for (Shape s : shapes) samples.push_back({{s, domain}});
  return samples;
}

// Each shape twice: two inputs of one shape (dot, hcat, the losses).
std::vector<Sample> each_twice(const std::vector<Shape>& shapes, Domain first = Domain::any,
                               Domain second = Domain::any) {
  std::vector<Sample> samples;
  for (Shape s : shapes) samples.push_back({{s, first}, {s, second}});
  return samples;
}

std::vector<Sample> pairs(const std::vector<ShapePair>& shapes, Domain first = Domain::any,
                          Domain second = Domain::any) {
  std::vector<Sample> samples;
  for (auto [a, b] : shapes) samples.push_back({{a, first}, {b, second}});
  return samples;
}

// A case from one generic lambda f(std::span<const ad::Var<T>>), instantiated for every tape.
template <class F>
CatalogCase make_case(Family family, std::string_view name, std::string_view also,
                      std::string label, F f, std::vector<Sample> samples) {
  return {family, name, also, std::move(label), CaseFunction{f, f, f}, std::move(samples)};
}

// Labels that visit every class as the columns go on, for logits of `rows` classes.
std::vector<int> cycling_labels(Eigen::Index rows, Eigen::Index cols) {
  std::vector<int> labels;
  for (Eigen::Index j = 0; j < cols; ++j) labels.push_back(static_cast<int>((3 * j + 1) % rows));
  return labels;
}

void add_linear(std::vector<CatalogCase>& c) {
  const Family f = Family::linear;
  c.push_back(make_case(
      f, "matmul", "`a * b`", "a * b", [](auto x) { return x[0] * x[1]; },
      pairs({{{1, 1}, {1, 1}},
             {{1, 4}, {4, 1}},
             {{4, 1}, {1, 4}},
             {{3, 5}, {5, 2}},
             {{2, 3}, {3, 1}},
             {{1, 3}, {3, 4}}})));
  c.push_back(make_case(
      f, "transpose", "", "transpose", [](auto x) { return transpose(x[0]); },
      each(unary_shapes())));
  // Scaling, negation and shifting by a scalar are one op, affine: C = α A + β.
  const std::string_view affine_forms = "`s * a`, `a + s`, `a - s`, `-a`, `a / s`";
  c.push_back(make_case(
      f, "affine", affine_forms, "affine(a, -1.5, 0.25)",
      [](auto x) { return affine(x[0], -1.5, 0.25); }, each(unary_shapes())));
  c.push_back(make_case(
      f, "affine", affine_forms, "2.5 * a", [](auto x) { return 2.5 * x[0]; },
      each(unary_shapes())));
  c.push_back(make_case(
      f, "affine", affine_forms, "a * 2.5", [](auto x) { return x[0] * 2.5; },
      each(unary_shapes())));
  c.push_back(make_case(
      f, "affine", affine_forms, "-a", [](auto x) { return -x[0]; }, each(unary_shapes())));
  c.push_back(make_case(
      f, "affine", affine_forms, "a + 3", [](auto x) { return x[0] + 3.0; }, each(unary_shapes())));
  c.push_back(make_case(
      f, "affine", affine_forms, "3 + a", [](auto x) { return 3.0 + x[0]; }, each(unary_shapes())));
  c.push_back(make_case(
      f, "affine", affine_forms, "a - 3", [](auto x) { return x[0] - 3.0; }, each(unary_shapes())));
  c.push_back(make_case(
      f, "affine", affine_forms, "3 - a", [](auto x) { return 3.0 - x[0]; }, each(unary_shapes())));
  c.push_back(make_case(
      f, "affine", affine_forms, "a / 4", [](auto x) { return x[0] / 4.0; }, each(small_shapes())));
}

void add_broadcast(std::vector<CatalogCase>& c) {
  const Family f = Family::broadcast;
  c.push_back(make_case(
      f, "add", "`a + b`", "a + b", [](auto x) { return x[0] + x[1]; }, pairs(broadcast_shapes())));
  c.push_back(make_case(
      f, "subtract", "`a - b`", "a - b", [](auto x) { return x[0] - x[1]; },
      pairs(broadcast_shapes())));
  c.push_back(make_case(
      f, "hadamard", "", "hadamard", [](auto x) { return hadamard(x[0], x[1]); },
      pairs(broadcast_shapes())));
}

void add_elementwise(std::vector<CatalogCase>& c) {
  const Family f = Family::elementwise;
  c.push_back(make_case(
      f, "sigmoid", "", "sigmoid", [](auto x) { return sigmoid(x[0]); }, each(unary_shapes())));
  c.push_back(make_case(
      f, "tanh", "", "tanh", [](auto x) { return tanh(x[0]); }, each(unary_shapes())));
  c.push_back(make_case(
      f, "relu", "", "relu", [](auto x) { return relu(x[0]); },
      each(unary_shapes(), Domain::away_from_zero)));
  c.push_back(make_case(
      f, "exp", "", "exp", [](auto x) { return exp(x[0]); }, each(unary_shapes())));
  c.push_back(make_case(
      f, "log", "", "log", [](auto x) { return log(x[0]); },
      each(unary_shapes(), Domain::positive)));
}

void add_math(std::vector<CatalogCase>& c) {
  const Family f = Family::math;
  c.push_back(make_case(
      f, "divide", "`a / b`", "a / b", [](auto x) { return x[0] / x[1]; },
      pairs({{{1, 1}, {1, 1}},
             {{1, 4}, {1, 4}},
             {{4, 1}, {4, 1}},
             {{2, 3}, {2, 3}},
             {{2, 3}, {1, 1}},
             {{1, 1}, {2, 3}},
             {{2, 3}, {2, 1}},
             {{1, 3}, {2, 3}},
             {{2, 1}, {1, 3}}},
            Domain::any, Domain::positive)));
  c.push_back(make_case(
      f, "divide", "`a / b`", "a / a", [](auto x) { return x[0] / x[0]; },
      each({{2, 3}}, Domain::positive)));
  const std::string_view pow_forms = "scalar p; `s / a` is `s · a^−1`";
  c.push_back(make_case(
      f, "pow", pow_forms, "pow 2.5", [](auto x) { return pow(x[0], 2.5); },
      each(small_shapes(), Domain::positive)));
  c.push_back(make_case(
      f, "pow", pow_forms, "pow -1", [](auto x) { return pow(x[0], -1.0); },
      each(small_shapes(), Domain::positive)));
  c.push_back(make_case(
      f, "pow", pow_forms, "pow 3 (negative base)", [](auto x) { return pow(x[0], 3.0); },
      each(small_shapes())));
  c.push_back(make_case(
      f, "pow", pow_forms, "pow 0", [](auto x) { return pow(x[0], 0.0); }, each(small_shapes())));
  c.push_back(make_case(
      f, "pow", pow_forms, "scalar / a", [](auto x) { return 2.0 / x[0]; },
      each(small_shapes(), Domain::positive)));
  c.push_back(make_case(
      f, "sqrt", "", "sqrt", [](auto x) { return sqrt(x[0]); },
      each(small_shapes(), Domain::positive)));
  c.push_back(make_case(
      f, "log1p", "", "log1p", [](auto x) { return log1p(x[0]); },
      each(small_shapes(), Domain::positive)));
  c.push_back(make_case(
      f, "abs", "", "abs", [](auto x) { return abs(x[0]); },
      each(small_shapes(), Domain::away_from_zero)));
  c.push_back(make_case(
      f, "square", "", "square", [](auto x) { return square(x[0]); }, each(small_shapes())));
  c.push_back(make_case(
      f, "softplus", "", "softplus", [](auto x) { return softplus(x[0]); }, each(small_shapes())));
  c.push_back(make_case(
      f, "log_sigmoid", "", "log_sigmoid", [](auto x) { return log_sigmoid(x[0]); },
      each(small_shapes())));
  c.push_back(make_case(
      f, "clamp", "", "clamp to [-0.5, 0.5]", [](auto x) { return clamp(x[0], -0.5, 0.5); },
      each(small_shapes(), Domain::away_from_zero)));
}

void add_reduce(std::vector<CatalogCase>& c) {
  const Family f = Family::reduce;
  c.push_back(make_case(
      f, "sum", "", "sum", [](auto x) { return sum(x[0]); }, each(unary_shapes())));
  c.push_back(make_case(
      f, "mean", "", "mean", [](auto x) { return mean(x[0]); }, each(unary_shapes())));
  const std::string_view sum_axis = "along an axis: `Axis::rows` gives 1 x n, `Axis::cols` m x 1";
  const std::string_view max_axis = "per column with `Axis::rows`, per row with `Axis::cols`";
  for (ad::Axis axis : {ad::Axis::rows, ad::Axis::cols}) {
    const std::string along = axis == ad::Axis::rows ? " along rows" : " along cols";
    c.push_back(make_case(
        f, "sum", sum_axis, "sum" + along, [axis](auto x) { return sum(x[0], axis); },
        each(small_shapes())));
    c.push_back(make_case(
        f, "mean", "along an axis", "mean" + along, [axis](auto x) { return mean(x[0], axis); },
        each(small_shapes())));
    c.push_back(make_case(
        f, "max", max_axis, "max" + along, [axis](auto x) { return max(x[0], axis); },
        each(small_shapes())));
  }
}

void add_algebra(std::vector<CatalogCase>& c) {
  const Family f = Family::algebra;
  c.push_back(make_case(
      f, "trace", "", "trace", [](auto x) { return trace(x[0]); }, each(square_shapes())));
  c.push_back(make_case(
      f, "inverse", "", "inverse", [](auto x) { return inverse(x[0]); },
      each(square_shapes(), Domain::regular)));
  c.push_back(make_case(
      f, "inverse", "", "A⁻¹ A", [](auto x) { return inverse(x[0]) * x[0]; },
      each(square_shapes(), Domain::regular)));
  c.push_back(make_case(
      f, "det", "", "det", [](auto x) { return det(x[0]); }, each(square_shapes())));
  c.push_back(make_case(
      f, "logdet", "", "logdet", [](auto x) { return logdet(x[0]); },
      each(square_shapes(), Domain::regular)));
  c.push_back(make_case(
      f, "logdet", "", "logdet of negative det", [](auto x) { return logdet(x[0]); },
      each(square_shapes(), Domain::negative_det)));
  std::vector<Sample> systems;
  for (Shape s : square_shapes()) {
    for (Eigen::Index k : {1, 3}) systems.push_back({{s, Domain::regular}, {{s.rows, k}}});
  }
  c.push_back(make_case(
      f, "solve", "", "solve", [](auto x) { return solve(x[0], x[1]); }, systems));
  c.push_back(make_case(
      f, "dot", "", "dot", [](auto x) { return dot(x[0], x[1]); }, each_twice(small_shapes())));
  c.push_back(make_case(
      f, "dot", "", "dot(a, a)", [](auto x) { return dot(x[0], x[0]); }, each(small_shapes())));
  std::vector<Sample> column_pairs;
  for (Eigen::Index m : {1, 3}) {
    for (Eigen::Index n : {1, 2}) column_pairs.push_back({{{m, 1}}, {{n, 1}}});
  }
  c.push_back(make_case(
      f, "outer", "", "outer", [](auto x) { return outer(x[0], x[1]); }, column_pairs));
  c.push_back(make_case(
      f, "norm", "", "norm", [](auto x) { return norm(x[0]); }, each(small_shapes())));
  // A 1x1 input is a column vector to diag: its matrix form starts at 2x2.
  c.push_back(make_case(
      f, "diag", "of a column vector", "diag of vector", [](auto x) { return diag(x[0]); },
      each({{1, 1}, {2, 1}, {4, 1}})));
  c.push_back(make_case(
      f, "diag", "of a square matrix", "diag of matrix", [](auto x) { return diag(x[0]); },
      each({{2, 2}, {4, 4}})));
}

void add_structure(std::vector<CatalogCase>& c) {
  const Family f = Family::structure;
  c.push_back(make_case(
      f, "reshape", "", "reshape to cols x rows",
      [](auto x) { return reshape(x[0], x[0].cols(), x[0].rows()); }, each(small_shapes())));
  c.push_back(make_case(
      f, "reshape", "", "reshape to a row",
      [](auto x) { return reshape(x[0], 1, x[0].rows() * x[0].cols()); }, each(small_shapes())));
  c.push_back(make_case(
      f, "block", "", "block: the last row",
      [](auto x) { return block(x[0], x[0].rows() - 1, 0, 1, x[0].cols()); },
      each(small_shapes())));
  c.push_back(make_case(
      f, "block", "", "block inside", [](auto x) { return block(x[0], 1, 1, 2, 2); },
      each({{3, 4}})));
  c.push_back(make_case(
      f, "row", "", "row: the last", [](auto x) { return row(x[0], x[0].rows() - 1); },
      each(small_shapes())));
  c.push_back(make_case(
      f, "col", "", "col: the last", [](auto x) { return col(x[0], x[0].cols() - 1); },
      each(small_shapes())));
  c.push_back(make_case(
      f, "hcat", "", "hcat of three parts, one twice",
      [](auto x) {
        return ad::hcat({x[0], x[1], x[0]});
      },
      each_twice(small_shapes())));
  c.push_back(make_case(
      f, "hcat", "", "hcat of different widths", [](auto x) { return hcat(x[0], x[1]); },
      pairs({{{2, 1}, {2, 3}}})));
  c.push_back(make_case(
      f, "vcat", "", "vcat", [](auto x) { return vcat(x[0], x[1]); }, each_twice(small_shapes())));
  c.push_back(make_case(
      f, "vcat", "", "vcat of different heights", [](auto x) { return vcat(x[0], x[1]); },
      pairs({{{1, 3}, {2, 3}}})));
  c.push_back(make_case(
      f, "broadcast_to", "", "broadcast_to 4x3", [](auto x) { return broadcast_to(x[0], 4, 3); },
      each({{1, 1}, {1, 3}, {4, 1}, {4, 3}})));
  c.push_back(make_case(
      f, "broadcast_to", "", "broadcast_to 3x4", [](auto x) { return broadcast_to(x[0], 3, 4); },
      each({{1, 1}, {1, 4}, {3, 1}})));
}

void add_softmax_losses(std::vector<CatalogCase>& c) {
  const Family f = Family::softmax_losses;
  c.push_back(make_case(
      f, "softmax", "", "softmax", [](auto x) { return softmax(x[0]); }, each(small_shapes())));
  c.push_back(make_case(
      f, "log_softmax", "", "log_softmax", [](auto x) { return log_softmax(x[0]); },
      each(small_shapes())));
  c.push_back(make_case(
      f, "softmax_cross_entropy", "against target probabilities P",
      "softmax_cross_entropy against probabilities",
      [](auto x) { return softmax_cross_entropy(x[0], x[1]); },
      each_twice(small_shapes(), Domain::any, Domain::probabilities)));
  c.push_back(make_case(
      f, "softmax_cross_entropy", "against integer labels y",
      "softmax_cross_entropy against labels",
      [](auto x) {
        const std::vector<int> labels = cycling_labels(x[0].rows(), x[0].cols());
        return softmax_cross_entropy(x[0], std::span<const int>(labels));
      },
      each(loss_shapes())));
  c.push_back(make_case(
      f, "sparse_softmax_cross_entropy", "against labels y held as numbers in a 1 x N Var",
      "sparse_softmax_cross_entropy",
      [](auto x) {
        using Scalar = typename std::decay_t<decltype(x[0].value())>::Scalar;
        const std::vector<int> labels = cycling_labels(x[0].rows(), x[0].cols());
        const ad::Matrix<Scalar> row =
            Eigen::Map<const Eigen::RowVectorXi>(labels.data(), x[0].cols()).cast<Scalar>();
        return sparse_softmax_cross_entropy(x[0], x[0].tape().constant(row));
      },
      each(loss_shapes())));
  // Targets need not be 0 or 1: soft targets in [0, 1] are differentiated too.
  c.push_back(make_case(
      f, "binary_cross_entropy_with_logits", "", "binary_cross_entropy_with_logits",
      [](auto x) { return binary_cross_entropy_with_logits(x[0], x[1]); },
      each_twice(loss_shapes(), Domain::any, Domain::unit_interval)));
  c.push_back(make_case(
      f, "mse", "", "mse", [](auto x) { return mse(x[0], x[1]); }, each_twice(loss_shapes())));
}

// Inputs are drawn inside each op's domain (the Domain values above); the family's test
// (test_linalg.cpp) adds 64x64 inputs, ill-conditioned ones and the domain errors.
void add_linalg(std::vector<CatalogCase>& c) {
  const Family f = Family::linalg;
  const std::vector<Shape> squares = {{1, 1}, {2, 2}, {4, 4}, {7, 7}};
  c.push_back(make_case(
      f, "cholesky", "", "cholesky", [](auto x) { return cholesky(x[0]); },
      each(squares, Domain::spd)));
  c.push_back(make_case(
      f, "cholesky", "", "cholesky of A + W − Wᵀ (read as ½(A + Aᵀ): no gradient for W)",
      [](auto x) { return cholesky(x[0] + x[1] - transpose(x[1])); },
      pairs({{{3, 3}, {3, 3}}}, Domain::spd, Domain::small)));
  std::vector<Sample> systems;
  for (Shape s : squares) {
    for (Eigen::Index k : {1, 3}) systems.push_back({{s, Domain::regular}, {{s.rows, k}}});
  }
  using ad::Transposed;
  using ad::Triangle;
  for (Triangle triangle : {Triangle::lower, Triangle::upper}) {
    for (Transposed transposed : {Transposed::no, Transposed::yes}) {
      const std::string label =
          fmt::format("triangular_solve {}{}", triangle == Triangle::lower ? "lower" : "upper",
                      transposed == Transposed::yes ? " transposed" : "");
      c.push_back(make_case(
          f, "triangular_solve", "", label,
          [triangle, transposed](auto x) {
            return triangular_solve(x[0], x[1], triangle, transposed);
          },
          systems));
    }
  }
  c.push_back(make_case(
      f, "cholesky_solve", "", "cholesky_solve", [](auto x) { return cholesky_solve(x[0], x[1]); },
      systems));
  std::vector<Sample> spd_systems;
  for (Shape s : squares) spd_systems.push_back({{s, Domain::spd}, {{s.rows, 2}}});
  c.push_back(make_case(
      f, "cholesky_solve", "", "cholesky_solve(cholesky(A), B) = A⁻¹ B",
      [](auto x) { return cholesky_solve(cholesky(x[0]), x[1]); }, spd_systems));
  c.push_back(make_case(
      f, "logdet_spd", "", "logdet_spd", [](auto x) { return logdet_spd(x[0]); },
      each(squares, Domain::spd)));
  c.push_back(make_case(
      f, "eigh_values", "", "eigh_values", [](auto x) { return eigh_values(x[0]); },
      each(squares, Domain::separated_eigenvalues)));
  c.push_back(make_case(
      f, "eigh_vectors", "", "eigh_vectors", [](auto x) { return eigh_vectors(x[0]); },
      each(squares, Domain::separated_eigenvalues)));
  c.push_back(make_case(
      f, "eigh_vectors", "", "eigh: V diag(λ) Vᵀ, both factors of one factorisation",
      [](auto x) {
        const auto e = ad::eigh(x[0]);
        return e.vectors * diag(e.values) * transpose(e.vectors);
      },
      each({{3, 3}}, Domain::separated_eigenvalues)));
  const std::vector<Shape> rectangles = {{1, 1}, {1, 4}, {4, 1}, {3, 3}, {5, 3}, {3, 5}};
  c.push_back(make_case(
      f, "singular_values", "", "singular_values", [](auto x) { return singular_values(x[0]); },
      each(rectangles, Domain::separated_singular_values)));
  c.push_back(make_case(
      f, "svd_u", "", "svd_u", [](auto x) { return svd_u(x[0]); },
      each(rectangles, Domain::separated_singular_values)));
  c.push_back(make_case(
      f, "svd_v", "", "svd_v", [](auto x) { return svd_v(x[0]); },
      each(rectangles, Domain::separated_singular_values)));
  c.push_back(make_case(
      f, "svd_v", "", "svd: U diag(s) Vᵀ = A",
      [](auto x) {
        const auto d = ad::svd(x[0]);
        return d.u * diag(d.s) * transpose(d.v);
      },
      each({{4, 2}, {2, 4}}, Domain::separated_singular_values)));
  const std::vector<Shape> tall = {{1, 1}, {4, 1}, {3, 3}, {5, 3}};
  c.push_back(make_case(
      f, "qr_q", "", "qr_q", [](auto x) { return qr_q(x[0]); },
      each(tall, Domain::full_column_rank)));
  c.push_back(make_case(
      f, "qr_r", "", "qr_r", [](auto x) { return qr_r(x[0]); },
      each(tall, Domain::full_column_rank)));
  c.push_back(make_case(
      f, "qr_r", "", "qr: Q R = A",
      [](auto x) {
        const auto d = ad::qr(x[0]);
        return d.q * d.r;
      },
      each({{4, 2}}, Domain::full_column_rank)));
  c.push_back(make_case(
      f, "matrix_exp", "", "matrix_exp", [](auto x) { return matrix_exp(x[0]); },
      each(squares, Domain::small)));
  c.push_back(make_case(
      f, "matrix_exp", "", "matrix_exp of a larger A (squaring steps)",
      [](auto x) { return matrix_exp(4.0 * x[0]); }, each({{3, 3}})));
  c.push_back(make_case(
      f, "log_sum_exp", "", "log_sum_exp", [](auto x) { return log_sum_exp(x[0]); },
      each(unary_shapes())));
  for (ad::Axis axis : {ad::Axis::rows, ad::Axis::cols}) {
    const std::string along = axis == ad::Axis::rows ? " along rows" : " along cols";
    c.push_back(make_case(
        f, "log_sum_exp", "along an axis, as `sum(a, axis)`", "log_sum_exp" + along,
        [axis](auto x) { return log_sum_exp(x[0], axis); }, each(unary_shapes())));
  }
  c.push_back(make_case(
      f, "kron", "", "kron", [](auto x) { return kron(x[0], x[1]); },
      pairs({{{1, 1}, {1, 1}},
             {{1, 1}, {2, 3}},
             {{2, 3}, {1, 1}},
             {{2, 1}, {1, 3}},
             {{2, 3}, {3, 2}}})));
  c.push_back(make_case(
      f, "kron", "", "kron(a, a)", [](auto x) { return kron(x[0], x[0]); },
      each({{2, 2}, {1, 3}})));
}

}  // namespace

std::string_view to_string(Family family) {
  switch (family) {
    case Family::linear:
      return "linear";
    case Family::broadcast:
      return "broadcast";
    case Family::elementwise:
      return "elementwise";
    case Family::math:
      return "math";
    case Family::reduce:
      return "reduce";
    case Family::algebra:
      return "algebra";
    case Family::structure:
      return "structure";
    case Family::softmax_losses:
      return "softmax_losses";
    case Family::linalg:
      return "linalg";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, const CatalogCase& c) {
  out << c.name;
  if (!c.also.empty()) out << " (" << c.also << ")";
  return out << ": " << c.label;
}

const std::vector<CatalogCase>& catalog() {
  static const std::vector<CatalogCase> cases = [] {
    std::vector<CatalogCase> all;
    add_linear(all);
    add_broadcast(all);
    add_elementwise(all);
    add_math(all);
    add_reduce(all);
    add_algebra(all);
    add_structure(all);
    add_softmax_losses(all);
    add_linalg(all);
    return all;
  }();
  return cases;
}

std::vector<CatalogCase> cases_of(Family family) {
  std::vector<CatalogCase> selected;
  for (const CatalogCase& c : catalog()) {
    if (c.family == family) selected.push_back(c);
  }
  return selected;
}

}  // namespace ad_test
