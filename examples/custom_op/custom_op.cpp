// Two ops of one's own (ops.hpp): records them on a tape, takes gradients, checks each
// against central finite differences with ad::gradcheck, on double tapes and on float ones.
// Exits with status 1 if a check fails.

#include "ops.hpp"

#include <fmt/format.h>

#include <random>

int main() {
  using Mat = ad::Matrix<double>;
  std::mt19937_64 rng(7);
  const Mat Z = ad::random_normal<double>(4, 3, rng);
  const Mat x = ad::random_normal<double>(3, 1, rng), A = ad::random_normal<double>(3, 2, rng),
            y = ad::random_normal<double>(2, 1, rng);

  ad::Tape<double> tape;
  auto z = tape.variable(Z);
  auto c = example::log_sum_exp(z);
  fmt::print("log_sum_exp of a 4x3 Z: {}\n", c.value());
  tape.backward(sum(c));
  fmt::print("d sum(log_sum_exp(Z)) / dZ: the softmax of each column, columns summing to {}\n",
             Mat(z.grad().colwise().sum()));

  // Generic functions: checked on a double tape, and on a float one when asked.
  auto total_lse = [](const auto& v) { return sum(example::log_sum_exp(v[0])); };
  auto form_of = [](const auto& xv, const auto& Av, const auto& yv) {
    return example::bilinear(xv, Av, yv);
  };
  const ad::GradcheckResult lse = ad::gradcheck(total_lse, {Z});
  fmt::print("\ngradcheck log_sum_exp: {}\n", lse);
  const ad::GradcheckResult form = ad::gradcheck(form_of, {x, A, y});
  fmt::print("gradcheck bilinear: {}\n", form);
  const ad::GradcheckResult lse_f = ad::gradcheck<float>(total_lse, {Z.cast<float>()});
  fmt::print("gradcheck log_sum_exp: {}\n", lse_f);
  const ad::GradcheckResult form_f =
      ad::gradcheck<float>(form_of, {x.cast<float>(), A.cast<float>(), y.cast<float>()});
  fmt::print("gradcheck bilinear: {}\n", form_f);

  // The same definitions on a float tape.
  ad::Tape<float> floats;
  auto zf = floats.variable(Z.cast<float>());
  auto cf = example::log_sum_exp(zf);
  fmt::print("\nfloat log_sum_exp: {} (double: {})\n", cf.value(), c.value());

  // A shape that does not fit is refused with the op, the shapes and this line.
  try {
    example::bilinear(tape.variable(x), tape.variable(A), tape.variable(x));
  } catch (const ad::ShapeError& e) {
    fmt::print("\n{}\n", e.what());
  }
  return lse.passed && form.passed && lse_f.passed && form_f.passed ? 0 : 1;
}
