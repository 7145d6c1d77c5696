#pragma once
// The catalog of the ops' gradient checks: for every row of ad::op_table(), named by its
// `name` and `also` exactly as the row spells them, one or more cases. A case is a function
// of the inputs written once for float and double tapes, and the input samples to check it
// at: several shapes (1x1, row and column vectors, non-square where the op admits them),
// each input drawn from a domain where the op needs one. Each family's test
// (tests/ops/test_<family>.cpp) runs its cases; test_catalog checks, by content, that the
// catalog and the op table name the same rows.

#include <ad/ad.hpp>

#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ad_test {

// The files of autodiff/src/ops/, with reduce and axis as one family, and softmax and
// losses as one.
enum class Family {
  linear,
  broadcast,
  elementwise,
  math,
  reduce,
  algebra,
  structure,
  softmax_losses,
  linalg,  // cholesky.cpp, decompositions.cpp and matrix_functions.cpp
};

std::string_view to_string(Family family);

// Where an input is drawn from.
enum class Domain {
  any,             // uniform in [−2, 2]
  positive,        // |any| + 0.2: log, sqrt, fractional and negative powers, divisors
  away_from_zero,  // sign · (|any| + 0.1): clear of the kinks of relu, abs, clamp
  unit_interval,   // uniform in [0, 1]: soft binary targets
  probabilities,   // positive, each column summing to 1: softmax targets
  regular,         // square, diagonally dominant: well conditioned for inverse, solve, logdet
  negative_det,    // regular with its first row negated: det A < 0 at every size
  spd,             // X Xᵀ / n + 0.1 I: symmetric positive definite, for cholesky, logdet_spd
  separated_eigenvalues,      // symmetric, eigenvalues about 1, 2, …, n (gaps near 1): eigh
  separated_singular_values,  // rectangular diagonal k, k − 1, …, 1 plus a small random part
  full_column_rank,           // m ≥ n, the first n rows diagonally dominant: qr
  small,  // uniform in [−0.5, 0.5]: matrix_exp, whose value grows like e^‖A‖
};

struct Input {
  ad::Shape shape;
  Domain domain = Domain::any;
};

using Sample = std::vector<Input>;  // one input per argument of the case's function

template <class T>
using OpFunction = std::function<ad::Var<T>(std::span<const ad::Var<T>>)>;

// A case's function on each tape (double, float, and the dual numbers of second
// derivatives); all come from one generic lambda (see make_case).
struct CaseFunction {
  OpFunction<double> on_double;
  OpFunction<float> on_float;
  OpFunction<ad::Dual<double>> on_dual;
  ad::Var<double> operator()(std::span<const ad::Var<double>> x) const { return on_double(x); }
  ad::Var<float> operator()(std::span<const ad::Var<float>> x) const { return on_float(x); }
  ad::Var<ad::Dual<double>> operator()(std::span<const ad::Var<ad::Dual<double>>> x) const {
    return on_dual(x);
  }
};

struct CatalogCase {
  Family family;
  std::string_view name;  // the op table row's name
  std::string_view also;  // and its `also`, character for character
  std::string label;      // what this case checks ("pow 2.5", "logdet of negative det")
  CaseFunction f;
  std::vector<Sample> samples;
};

std::ostream& operator<<(std::ostream& out, const CatalogCase& c);

// Every case, family by family.
const std::vector<CatalogCase>& catalog();

// The cases of one family, in catalog order.
std::vector<CatalogCase> cases_of(Family family);

}  // namespace ad_test
