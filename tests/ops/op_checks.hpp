#pragma once
// What the op family tests (tests/ops/test_<family>.cpp) share: drawing inputs, the gradient
// checks against central differences in double, a float tape against a double tape, running
// a catalog case, and checking an error's message. Define BOOST_TEST_MODULE before including
// this in a test's main file.

#include "catalog.hpp"

#include <ad/ad.hpp>

#include <fmt/format.h>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace ad_test {

using Mat = ad::Matrix<double>;

Mat draw(Input input, std::mt19937_64& rng);
std::vector<Mat> draw(const Sample& sample, std::mt19937_64& rng);

// " 2x3 3x1": the inputs' shapes, for messages.
std::string shapes_of(const std::vector<Mat>& inputs);

bool contains(const std::exception& e, const std::string& part);

// L = Σ C ⊙ R for a fixed random R: every element of the op's output gets its own seed.
template <class T>
ad::Var<T> weighted_sum(const ad::Var<T>& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Mat R = ad::random_uniform<double>(c.rows(), c.cols(), rng, -1, 1);
  return sum(hadamard(c, c.tape().constant(R.cast<T>())));
}

// f (a callable taking std::span<const ad::Var<double>>) through a random weighting of its
// value: the gradient of Σ f(x) ⊙ R against central differences, by ad::gradcheck.
template <class F>
void check_gradient(const std::string& name, const F& f, const std::vector<Mat>& inputs) {
  auto weighted = [&](std::span<const ad::Var<double>> x) { return weighted_sum(f(x), 99); };
  const ad::GradcheckResult r = ad::gradcheck(weighted, inputs);
  BOOST_TEST(r.passed, name << " on" << shapes_of(inputs) << ":\n" << fmt::format("{}", r));
}

// f's whole Jacobian against central differences, by ad::gradcheck_jacobian.
template <class F>
void check_jacobian(const std::string& name, const F& f, const std::vector<Mat>& inputs) {
  const ad::GradcheckResult r = ad::gradcheck_jacobian(ad::Function<double>(f), inputs);
  BOOST_TEST(r.passed, name << " on" << shapes_of(inputs) << ":\n" << fmt::format("{}", r));
}

// The gradients of vᵀ vec(f(x)) at `inputs` for a fixed random v (every element of f's value
// its own weight), on a tape of T, as double. f is a generic callable taking
// std::span<const ad::Var<T>>.
template <class T, class F>
std::vector<Mat> weighted_gradients(const F& f, const std::vector<Mat>& inputs) {
  ad::Tape<T> tape;
  std::vector<ad::Var<T>> x;
  for (const auto& m : inputs) x.push_back(tape.variable(m.cast<T>()));
  const ad::Var<T> y = f(std::span<const ad::Var<T>>(x));
  std::mt19937_64 rng(99);
  const Mat v = ad::random_uniform<double>(y.rows(), y.cols(), rng, -1, 1);
  tape.backward(y, v.cast<T>());
  std::vector<Mat> g;
  for (const auto& xk : x) g.push_back(xk.grad().template cast<double>());
  return g;
}

// f's gradient on a float tape agrees with the double tape's within 1e-5 of
// max(1, max |gradient|), for each input.
template <class F>
void check_float_agrees(const std::string& name, const F& f, const std::vector<Mat>& inputs) {
  const auto single = weighted_gradients<float>(f, inputs);
  const auto dbl = weighted_gradients<double>(f, inputs);
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const double error = (single[k] - dbl[k]).cwiseAbs().maxCoeff();
    const double scale = std::max(1.0, dbl[k].cwiseAbs().maxCoeff());
    BOOST_TEST(error <= 1e-5 * scale, name << " on" << shapes_of(inputs) << ", input " << k
                                           << ": float differs by " << error);
  }
}

// All three checks of f, a generic callable of std::span<const ad::Var<T>> for T = float
// and double.
template <class F>
void check_op(const std::string& name, const F& f, const std::vector<Mat>& inputs) {
  check_gradient(name, f, inputs);
  check_jacobian(name, f, inputs);
  check_float_agrees(name, f, inputs);
}

// check_op of the case at each of its samples, drawn from a generator seeded by its label.
void check_catalog_case(const CatalogCase& c);

// Registers a test suite "catalog" with one test case per catalog case of the family, named
// <op>_<k> for the op's k-th case (catalog/pow_2), so that each case passes or fails on its
// own. Called at static initialisation, as Boost's own test case registrars are; returns
// true.
bool register_catalog(Family family);

// f throws E, and the message contains every fragment (op name, shapes, why, the caller's
// file).
template <class E = ad::ShapeError>
void check_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    BOOST_ERROR("no exception; expected one containing '" << fragments.front() << "'");
  } catch (const E& e) {
    for (const auto& s : fragments) {
      BOOST_TEST(contains(e, s), "'" << s << "' not in: " << e.what());
    }
  }
}

// An input that is not a live node of the op's tape is an ad::Error that names the op and the
// caller's file: a default-constructed Var or one from before tape.clear() for a unary op,
// one from another tape as either argument for a binary op. op takes one or two
// ad::Var<double>.
template <class Op>
void check_invalid_inputs(const std::string& name, Op op, const std::string& file) {
  using V = ad::Var<double>;
  if constexpr (std::is_invocable_v<Op, const V&>) {
    ad::Tape<double> tape;
    const V stale = tape.variable(Mat::Identity(2, 2));
    tape.clear();
    check_error<ad::Error>([&] { op(stale); }, {name + ": the Var was recorded before", file});
    check_error<ad::Error>([&] { op(V()); }, {name + ": an empty", file});
  } else {
    ad::Tape<double> mine, other;
    const V a = mine.variable(Mat::Identity(2, 2));
    const V b = other.variable(Mat::Identity(2, 2));
    check_error<ad::Error>([&] { op(a, b); }, {name + ": the Var belongs to another tape", file});
    check_error<ad::Error>([&] { op(b, a); }, {name + ": the Var belongs to another tape", file});
  }
}

}  // namespace ad_test
