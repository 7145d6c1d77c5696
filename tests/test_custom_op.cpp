// ad::custom_op: ops written outside the engine are recorded, checked and differentiated like
// the built-in ones. The two ops of examples/custom_op are checked against values computed
// independently here and against finite differences.

#define BOOST_TEST_MODULE custom_op
#include <ad/ad.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "count_allocations.hpp"
#include "ops.hpp"

using Mat = ad::Matrix<double>;
using V = ad::Var<double>;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// C = s A, with s given when recorded:  Ā += s C̄
template <class T>
struct Scale {
  static constexpr const char* name = "scale";
  struct Saved {
    T s;
  };
  static ad::Shape shape(const ad::InputShapes<T>& in) { return in[0]; }
  static void value(const ad::Rule<T, Saved>& r) { r.y() = r.saved().s * r.x(0); }
  static void adjoint(const ad::Rule<T, Saved>& r) { r.accumulate(0, r.saved().s * r.ybar()); }
};

// C = Σₖ Aₖ over any number of inputs of one shape:  Āₖ += C̄
struct SumAll {
  static constexpr const char* name = "sum_all";
  static ad::Shape shape(const ad::InputShapes<double>& in) {
    for (std::size_t k = 1; k < in.size(); ++k) {
      if (in[k] != in[0]) throw ad::ShapeMismatch("all inputs must have one shape");
    }
    return in[0];
  }
  static void value(const ad::Rule<double>& r) {
    r.y() = r.x(0);
    for (int k = 1; k < r.arity(); ++k) r.y() += r.x(k);
  }
  static void adjoint(const ad::Rule<double>& r) {
    for (int k = 0; k < r.arity(); ++k) {
      if (r.wants(k)) r.accumulate(k, r.ybar());
    }
  }
};

// C = A ⊘ A with a value rule that refuses a zero.
struct Refusing {
  static constexpr const char* name = "refusing";
  static ad::Shape shape(const ad::InputShapes<double>& in) { return in[0]; }
  static void value(const ad::Rule<double>& r) {
    if ((r.x(0).array() == 0).any()) throw ad::NumericError("refusing: a zero");
    r.y().setOnes();
  }
  static void adjoint(const ad::Rule<double>&) {}
};

// C = A, with an adjoint rule that writes Inf.
struct InfiniteAdjoint {
  static constexpr const char* name = "infinite_adjoint";
  static ad::Shape shape(const ad::InputShapes<double>& in) { return in[0]; }
  static void value(const ad::Rule<double>& r) { r.y() = r.x(0); }
  static void adjoint(const ad::Rule<double>& r) {
    r.accumulate(0, r.ybar() * std::numeric_limits<double>::infinity());
  }
};

// ln Σᵢ e^zᵢ summed in long double, without the max shift (safe for the sizes used here).
Mat naive_log_sum_exp(const Mat& z) {
  Mat c(1, z.cols());
  for (Eigen::Index j = 0; j < z.cols(); ++j) {
    long double s = 0;
    for (Eigen::Index i = 0; i < z.rows(); ++i) s += std::exp(static_cast<long double>(z(i, j)));
    c(0, j) = static_cast<double>(std::log(s));
  }
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(log_sum_exp_agrees_with_a_direct_sum_and_finite_differences) {
  std::mt19937_64 rng(11);
  for (const auto& [m, n] : {std::pair{1, 1}, {3, 1}, {1, 4}, {4, 3}, {5, 2}}) {
    const Mat Z = ad::random_normal<double>(m, n, rng);
    ad::Tape<double> tape;
    auto z = tape.variable(Z);
    auto c = example::log_sum_exp(z);
    BOOST_TEST(c.value().isApprox(naive_log_sum_exp(Z), 1e-14));
    tape.backward(sum(c));
    // d/dZ Σⱼ lse(Z₍:,ⱼ₎) is the softmax of each column: columns sum to 1.
    BOOST_TEST(z.grad().colwise().sum().isApproxToConstant(1.0, 1e-14));
    const auto r = ad::gradcheck(
        [](std::span<const V> v) { return sum(hadamard(example::log_sum_exp(v[0]), v[1])); },
        {Z, ad::random_normal<double>(1, n, rng)});
    BOOST_TEST(r.passed, fmt::format("{}x{}: {}", m, n, r));
  }
}

BOOST_AUTO_TEST_CASE(log_sum_exp_is_finite_for_logits_far_beyond_exps_range) {
  ad::Tape<double> tape;
  auto z = tape.variable(Mat{{1000.0, -1000.0}, {999.0, -1001.0}});
  auto c = example::log_sum_exp(z);
  const double expected = 1000.0 + std::log1p(std::exp(-1.0));
  BOOST_TEST(std::abs(c.value()(0, 0) - expected) <= 1e-12);
  BOOST_TEST(std::abs(c.value()(0, 1) - (expected - 2000.0)) <= 1e-12);
}

BOOST_AUTO_TEST_CASE(bilinear_has_the_hand_derived_gradients) {
  std::mt19937_64 rng(12);
  for (const auto& [n, m] : {std::pair{1, 1}, {3, 1}, {1, 4}, {3, 2}}) {
    const Mat X = ad::random_normal<double>(n, 1, rng), A = ad::random_normal<double>(n, m, rng),
              Y = ad::random_normal<double>(m, 1, rng);
    ad::Tape<double> tape;
    auto x = tape.variable(X), a = tape.variable(A), y = tape.variable(Y);
    auto c = example::bilinear(x, a, y);
    BOOST_TEST(std::abs(c.value()(0, 0) - (X.transpose() * A * Y)(0, 0)) <= 1e-14);
    tape.backward(3.0 * c);
    BOOST_TEST(x.grad().isApprox(3.0 * A * Y, 1e-14));
    BOOST_TEST(a.grad().isApprox(3.0 * X * Y.transpose(), 1e-14));
    BOOST_TEST(y.grad().isApprox(3.0 * A.transpose() * X, 1e-14));
    const auto r = ad::gradcheck(
        [](std::span<const V> v) { return example::bilinear(v[0], v[1], v[2]); }, {X, A, Y});
    BOOST_TEST(r.passed, fmt::format("{}x{}: {}", n, m, r));
  }
}

BOOST_AUTO_TEST_CASE(custom_ops_run_on_float_tapes) {
  std::mt19937_64 rng(13);
  const Mat Z = ad::random_normal<double>(4, 3, rng);
  ad::Tape<float> tape;
  auto z = tape.variable(Z.cast<float>());
  auto c = example::log_sum_exp(z);
  tape.backward(sum(c));
  BOOST_TEST(c.value().cast<double>().isApprox(naive_log_sum_exp(Z), 1e-6));
  BOOST_TEST(z.grad().colwise().sum().isApproxToConstant(1.0f, 1e-6f));
}

BOOST_AUTO_TEST_CASE(a_shape_mismatch_names_the_op_every_shape_the_reason_and_the_line) {
  ad::Tape<double> tape;
  auto x = tape.variable(Mat::Ones(3, 1)), a = tape.variable(Mat::Ones(3, 2));
  const std::size_t before = tape.size();
  const int line = __LINE__ + 2;
  try {
    example::bilinear(x, a, x);
    BOOST_ERROR("no exception");
  } catch (const ad::ShapeError& e) {
    for (const std::string& part :
         {std::string("bilinear"), std::string("shapes 3x1, 3x2 and 3x1 do not fit"),
          std::string("A must be 3x3"), "test_custom_op.cpp:" + std::to_string(line)}) {
      BOOST_TEST(contains(e.what(), part), e.what());
    }
  }
  BOOST_TEST(tape.size() == before);
}

BOOST_AUTO_TEST_CASE(saved_state_given_when_recorded_reaches_both_rules) {
  ad::Tape<double> tape;
  auto a = tape.variable(Mat{{1.0, 2.0}});
  auto c = ad::custom_op<Scale<double>>({a}, {.s = 2.5});
  BOOST_TEST(c.value().isApprox(Mat{{2.5, 5.0}}));
  tape.backward(sum(c));
  BOOST_TEST(a.grad().isApprox(Mat::Constant(1, 2, 2.5)));
}

BOOST_AUTO_TEST_CASE(an_op_takes_any_number_of_inputs) {
  std::mt19937_64 rng(14);
  for (int count : {1, 3, 4, 9}) {
    ad::Tape<double> tape;
    std::vector<V> inputs;
    Mat total = Mat::Zero(2, 3);
    for (int k = 0; k < count; ++k) {
      const Mat value = ad::random_normal<double>(2, 3, rng);
      total += value;
      inputs.push_back(tape.variable(value));
    }
    auto c = ad::custom_op<SumAll>(std::span<const V>(inputs));
    BOOST_TEST(c.arity() == count);
    BOOST_TEST(c.input(count - 1).index() == inputs.back().index());
    BOOST_TEST(c.value().isApprox(total, 1e-14));
    tape.backward(sum(hadamard(c, c)));
    for (const V& v : inputs) BOOST_TEST(v.grad().isApprox(2 * total, 1e-14));
  }
}

BOOST_AUTO_TEST_CASE(hcat_and_vcat_of_many_parts_are_one_node) {
  ad::Tape<double> tape;
  std::vector<V> parts;
  for (int k = 0; k < 6; ++k) parts.push_back(tape.variable(Mat::Constant(2, k + 1, k)));
  const std::size_t leaves = tape.size();
  auto h = ad::hcat(std::span<const V>(parts));
  BOOST_TEST(tape.size() == leaves + 1);
  BOOST_TEST(h.cols() == 21);
  BOOST_TEST(h.value()(1, 20) == 5.0);
  tape.backward(sum(hadamard(h, h)));
  for (int k = 0; k < 6; ++k) BOOST_TEST(parts[k].grad().isApprox(Mat::Constant(2, k + 1, 2 * k)));
}

BOOST_AUTO_TEST_CASE(a_value_rule_that_throws_leaves_no_node) {
  ad::Tape<double> tape;
  auto a = tape.variable(Mat{{1.0, 0.0}});
  auto b = tape.variable(Mat{{1.0, 2.0}});
  const std::size_t before = tape.size();
  BOOST_CHECK_THROW(ad::custom_op<Refusing>({a}), ad::NumericError);
  BOOST_TEST(tape.size() == before);
  auto c = ad::custom_op<SumAll>({a, b, a, b});  // the wide inputs' list is intact too
  tape.backward(sum(c));
  BOOST_TEST(a.grad().isApprox(Mat::Constant(1, 2, 2.0)));
}

BOOST_AUTO_TEST_CASE(check_finite_covers_custom_values_and_adjoints) {
  ad::Tape<double> tape;
  tape.check_finite(true);
  auto a = tape.variable(Mat{{1.0, -1.0}});
  try {
    ad::custom_op<Scale<double>>({a}, {.s = std::numeric_limits<double>::quiet_NaN()});
    BOOST_ERROR("no exception");
  } catch (const ad::NumericError& e) {
    BOOST_TEST(contains(e.what(), "'scale'"), e.what());
  }
  auto c = ad::custom_op<InfiniteAdjoint>({a});
  try {
    tape.backward(sum(c));
    BOOST_ERROR("no exception");
  } catch (const ad::NumericError& e) {
    BOOST_TEST(contains(e.what(), "infinite_adjoint"), e.what());
  }
}

BOOST_AUTO_TEST_CASE(inputs_are_checked_like_any_ops) {
  ad::Tape<double> tape, other;
  auto a = tape.variable(Mat::Ones(2, 2));
  auto b = other.variable(Mat::Ones(2, 2));
  BOOST_CHECK_THROW(ad::custom_op<SumAll>({a, b}), ad::Error);
  BOOST_CHECK_THROW(ad::custom_op<SumAll>(std::span<const V>()), ad::Error);
  tape.clear();
  BOOST_CHECK_THROW(ad::custom_op<SumAll>({a}), ad::Error);
}

BOOST_AUTO_TEST_CASE(recording_custom_ops_again_allocates_nothing) {
  std::mt19937_64 rng(15);
  const Mat Z = ad::random_normal<double>(5, 4, rng), X = ad::random_normal<double>(5, 1, rng),
            A = ad::random_normal<double>(5, 3, rng), Y = ad::random_normal<double>(3, 1, rng);
  ad::Tape<double> tape;
  auto step = [&] {
    tape.clear();
    auto z = tape.variable(Z);
    auto x = tape.variable(X), a = tape.variable(A), y = tape.variable(Y);
    auto loss = sum(example::log_sum_exp(z)) + example::bilinear(x, a, y) +
                sum(ad::custom_op<SumAll>({x, x, x, x, x}));
    tape.backward(loss);
    return z.grad()(0, 0);
  };
  const double first = step();
  const long before = ad_test::allocations.load();
  BOOST_TEST(step() == first);
  BOOST_TEST(ad_test::allocations.load() == before);
}
