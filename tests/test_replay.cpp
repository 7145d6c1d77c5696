// Recordings evaluated again (ad::Recording, <ad/replay.hpp>): bit for bit the values and
// gradients of a fresh recording at the same inputs, over every op; fixed shapes; check_finite;
// no memory taken per evaluation; the checked mode.

#define BOOST_TEST_MODULE replay
#include "count_allocations.hpp"
#include "random_expression.hpp"

#include <ad/ad.hpp>

#include <Eigen/LU>
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

using ad::Matrix;
using ad::Var;
using M = Matrix<double>;

bool same_bits(const M& a, const M& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(double) * std::size_t(a.size())) == 0;
}

// The seed network y = σ(W3 σ(W2 σ(W1 I))) as a function of {W1, W2, W3, I}.
Var<double> seed_network(std::span<const Var<double>> x) {
  return sigmoid(x[2] * sigmoid(x[1] * sigmoid(x[0] * x[3])));
}

// What a fresh recording at xs gives: f's value and the gradient of every input.
struct Fresh {
  M value;
  std::vector<M> grads;
};

template <class F>
Fresh fresh(const F& f, const std::vector<M>& xs, const M* seed) {
  ad::Tape<double> tape;
  std::vector<Var<double>> vs;
  for (const M& x : xs) vs.push_back(tape.variable(x));
  const Var<double> y = f(vs);
  if (seed) {
    tape.backward(y, *seed);
  } else {
    tape.backward(y);
  }
  Fresh r{M(y.value()), {}};
  for (const auto& v : vs) r.grads.emplace_back(v.grad());
  return r;
}

// Values for {W1, W2, W3, I}.
std::vector<M> seed_inputs(std::mt19937_64& rng) {
  return {ad::random_normal<double>(2, 2, rng), ad::random_normal<double>(2, 2, rng),
          ad::random_normal<double>(1, 2, rng), M::Constant(2, 1, 0.5)};
}

std::vector<M> moved(const std::vector<M>& xs, double by) {
  std::vector<M> ys = xs;
  for (M& y : ys) y.array() += by;
  return ys;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_seed_network_replayed_equals_a_fresh_recording) {
  std::mt19937_64 rng(3);
  const std::vector<M> at = seed_inputs(rng);
  auto f = ad::record<double>(seed_network, at);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<M> xs;
    for (const M& x : at) xs.push_back(ad::random_normal<double>(x.rows(), x.cols(), rng));
    const Fresh expected = fresh(seed_network, xs, nullptr);
    BOOST_TEST(same_bits(f.gradient(xs), expected.value));
    for (std::size_t k = 0; k < xs.size(); ++k) BOOST_TEST(same_bits(f.grad(k), expected.grads[k]));
    BOOST_TEST(same_bits(f.value(xs), expected.value));
  }
}

// Every op, in combination: each graph of the random-expression generator recorded at its
// inputs and evaluated at moved inputs gives, bit for bit, the value and the vector-Jacobian
// product of a fresh recording at the moved inputs.
BOOST_AUTO_TEST_CASE(random_graphs_replayed_equal_fresh_recordings) {
  int checked = 0;
  int refused = 0;
  for (std::uint64_t seed = 1; seed <= 600; ++seed) {
    const ad::testing::RandomExpression e = ad::testing::random_expression(seed);
    auto f = ad::record<double>(e, e.inputs);
    const std::vector<M> xs = moved(e.inputs, 1e-3);
    std::mt19937_64 rng(seed);
    const Var<double> y = f.output();
    const M seed_matrix = ad::random_normal<double>(y.rows(), y.cols(), rng);
    Fresh expected;
    try {
      expected = fresh(e, xs, &seed_matrix);
    } catch (const ad::NumericError&) {
      // The move left an op's domain (a matrix became singular): replay must refuse it too.
      BOOST_CHECK_THROW(f.vjp(xs, seed_matrix), ad::NumericError);
      ++refused;
      continue;
    }
    const M value = f.vjp(xs, seed_matrix);
    BOOST_TEST(same_bits(value, expected.value), "seed " << seed << "\n" << e.text());
    for (std::size_t k = 0; k < xs.size(); ++k) {
      BOOST_TEST(same_bits(f.grad(k), expected.grads[k]), "seed " << seed << " input " << k);
    }
    ++checked;
  }
  BOOST_TEST(checked >= 590);
  BOOST_TEST_MESSAGE(checked << " graphs replayed, " << refused << " refused by both");
}

BOOST_AUTO_TEST_CASE(a_replay_takes_no_memory) {
  std::mt19937_64 rng(4);
  const std::vector<M> at = seed_inputs(rng);
  auto f = ad::record<double>(seed_network, at);
  const std::vector<M> xs = moved(at, 0.25);
  f.gradient(xs);
  const std::size_t arena = f.tape().arena_bytes();
  const std::size_t nodes = f.tape().size();
  const long before = ad_test::allocations;
  for (int i = 0; i < 10; ++i) f.gradient(xs);
  BOOST_TEST(ad_test::allocations - before == 0);
  BOOST_TEST(f.tape().arena_bytes() == arena);
  BOOST_TEST(f.tape().size() == nodes);
}

BOOST_AUTO_TEST_CASE(an_input_of_another_shape_is_a_shape_error) {
  auto f =
      ad::record<double>([](std::span<const Var<double>> x) { return sum(x[0]); }, {M::Ones(2, 3)});
  BOOST_CHECK_THROW(f.value({M::Ones(3, 2)}), ad::ShapeError);
  BOOST_CHECK_THROW(f.value({M::Ones(2, 3), M::Ones(2, 3)}), ad::Error);
  BOOST_TEST(f.value({M::Ones(2, 3)})(0, 0) == 6);
}

BOOST_AUTO_TEST_CASE(a_strided_input_is_copied_and_gives_the_same_result) {
  const M big = M::Random(5, 4);
  auto f = ad::record<double>(
      [](std::span<const Var<double>> x) { return sum(hadamard(x[0], x[0])); }, {M::Ones(2, 3)});
  const M block = big.block(1, 1, 2, 3);
  BOOST_TEST(f.gradient({big.block(1, 1, 2, 3)})(0, 0) == block.squaredNorm());
  BOOST_TEST(same_bits(f.grad(0), 2 * block));
}

BOOST_AUTO_TEST_CASE(check_finite_applies_to_replayed_inputs_and_values) {
  auto f = ad::record<double>([](std::span<const Var<double>> x) { return sum(log(x[0])); },
                              {M::Ones(2, 2)});
  f.tape().check_finite(true);
  M bad = M::Ones(2, 2);
  bad(1, 0) = -1;  // log(−1) = NaN
  BOOST_CHECK_THROW(f.value({bad}), ad::NumericError);
  bad(1, 0) = std::numeric_limits<double>::quiet_NaN();
  BOOST_CHECK_THROW(f.value({bad}), ad::NumericError);
  BOOST_TEST(f.value({M::Constant(2, 2, std::exp(1.0))})(0, 0) == 4.0);
}

BOOST_AUTO_TEST_CASE(a_singular_matrix_on_replay_is_refused_and_the_next_evaluation_works) {
  auto f = ad::record<double>([](std::span<const Var<double>> x) { return logdet(x[0]); },
                              {M::Identity(2, 2)});
  BOOST_CHECK_THROW(f.gradient({M::Zero(2, 2)}), ad::NumericError);
  const M a = (M(2, 2) << 2, 1, 1, 3).finished();
  BOOST_TEST(f.gradient({a})(0, 0) == std::log(5.0), boost::test_tools::tolerance(1e-15));
  // ∂ ln|det A| / ∂A = A⁻ᵀ
  BOOST_TEST((f.grad(0) - a.inverse().transpose()).norm() < 1e-15);
}

// max along an axis saves where each maximum was, in memory its value rule asks the tape
// for: a replay hands it the same memory and the gradient follows the new maxima.
BOOST_AUTO_TEST_CASE(an_op_that_saves_in_its_value_rule_follows_new_inputs) {
  auto f = ad::record<double>(
      [](std::span<const Var<double>> x) { return sum(max(x[0], ad::Axis::rows)); },
      {(M(2, 2) << 1, 0, 0, 1).finished()});
  f.gradient({(M(2, 2) << 0, 1, 1, 0).finished()});
  BOOST_TEST(same_bits(f.grad(0), (M(2, 2) << 0, 1, 1, 0).finished()));
}

BOOST_AUTO_TEST_CASE(parameters_are_read_by_reference_and_a_resized_one_is_refused) {
  ad::Parameter<double> w(M::Constant(1, 2, 1.0));
  auto f = ad::record<double>(
      [&](std::span<const Var<double>> x) { return sum(x[0].tape().parameter(w) * x[0]); },
      {M::Ones(2, 1)});
  w.value() << 2, 3;
  BOOST_TEST(f.gradient({M::Ones(2, 1)})(0, 0) == 5);
  BOOST_TEST(same_bits(w.grad(), M::Ones(1, 2)));
  BOOST_TEST(same_bits(f.grad(0), (M(2, 1) << 2, 3).finished()));
  w.value() = M::Ones(1, 3);
  w.zero_grad();
  BOOST_CHECK_THROW(f.value({M::Ones(2, 1)}), ad::ShapeError);
}

BOOST_AUTO_TEST_CASE(only_the_inputs_in_wrt_get_gradients) {
  auto f =
      ad::record<double>([](std::span<const Var<double>> x) { return sum(hadamard(x[0], x[1])); },
                         {M::Ones(1, 2), M::Ones(1, 2)}, {.wrt = std::vector<std::size_t>{1}});
  f.gradient({(M(1, 2) << 4, 5).finished(), M::Ones(1, 2)});
  BOOST_TEST(same_bits(f.grad(1), (M(1, 2) << 4, 5).finished()));
  BOOST_CHECK_THROW(f.grad(0), ad::Error);
  BOOST_CHECK_THROW(f.grad(2), ad::Error);
  BOOST_CHECK_THROW(ad::record<double>([](std::span<const Var<double>> x) { return sum(x[0]); },
                                       {M::Ones(1, 1)}, {.wrt = std::vector<std::size_t>{3}}),
                    ad::Error);
}

// A function whose graph depends on a value: replay keeps the recorded branch; the checked
// mode finds where a fresh recording differs.
BOOST_AUTO_TEST_CASE(the_checked_mode_finds_control_flow_on_values) {
  auto branchy = [](std::span<const Var<double>> x) {
    return x[0].value()(0, 0) > 0 ? sum(exp(x[0])) : sum(x[0]);
  };
  auto f = ad::record<double>(branchy, {M::Ones(1, 1)});
  BOOST_TEST(f.value({M::Constant(1, 1, -1.0)})(0, 0) == std::exp(-1.0));  // frozen branch
  auto checked = ad::record<double>(branchy, {M::Ones(1, 1)}, {.checked = true});
  BOOST_TEST(checked.value({M::Constant(1, 1, 2.0)})(0, 0) == std::exp(2.0));
  try {
    checked.value({M::Constant(1, 1, -1.0)});
    BOOST_ERROR("the checked mode missed a changed branch");
  } catch (const ad::Error& e) {
    BOOST_TEST(std::string(e.what()).find("'exp'") != std::string::npos, e.what());
  }
  // A constant computed from a value is found by its values.
  auto scaled = ad::record<double>(
      [](std::span<const Var<double>> x) {
        return sum(hadamard(x[0], x[0].tape().constant(2 * x[0].value())));
      },
      {M::Ones(1, 2)}, {.checked = true});
  BOOST_CHECK_THROW(scaled.value({M::Constant(1, 2, 3.0)}), ad::Error);
}

BOOST_AUTO_TEST_CASE(float_recordings_replay_too) {
  using F = Matrix<float>;
  auto f = ad::record<float>(
      [](std::span<const Var<float>> x) { return sum(hadamard(x[0], x[0])); }, {F::Ones(2, 2)});
  BOOST_TEST(f.gradient({F::Constant(2, 2, 3.0f)})(0, 0) == 36.0f);
  BOOST_TEST((f.grad(0).array() == 6.0f).all());
}

// gradient(inputs, passed) is gradient(inputs) whose sweep reports every node it passes,
// from the output down to node 0, in order.
BOOST_AUTO_TEST_CASE(a_gradient_reporting_each_node_equals_the_plain_gradient) {
  std::mt19937_64 rng(4);
  const M w1 = ad::random_normal<double>(3, 2, rng), w2 = ad::random_normal<double>(1, 3, rng);
  const M i1 = ad::random_normal<double>(2, 1, rng);
  auto f = ad::record<double>(
      [](std::span<const Var<double>> x) { return sum(sigmoid(x[1] * sigmoid(x[0] * x[2]))); },
      {w1, w2, i1});
  const M other = ad::random_normal<double>(3, 2, rng);
  const double plain = f.gradient({other, w2, i1})(0, 0);
  const M plain_grad = f.grad(0);
  std::vector<std::uint32_t> passed;
  const double reported =
      f.gradient({other, w2, i1}, [&](std::uint32_t i) { passed.push_back(i); })(0, 0);
  BOOST_TEST(reported == plain);
  BOOST_TEST(same_bits(f.grad(0), plain_grad));
  std::vector<std::uint32_t> every_node(f.output().index() + 1);
  for (std::size_t k = 0; k < every_node.size(); ++k) {
    every_node[k] = static_cast<std::uint32_t>(every_node.size() - 1 - k);
  }
  BOOST_TEST(passed == every_node, boost::test_tools::per_element());
}
