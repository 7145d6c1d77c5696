#pragma once
// A float tape's gradient against a double tape's, for the ops' tests. Include after
// <boost/test/unit_test.hpp>.

#include <ad/ad.hpp>

#include <algorithm>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace ad_test {

// The gradients of vᵀ vec(f(x)) at `inputs` for a fixed random v (every element of f's value
// its own weight), on a tape of T, as double. f is a generic callable taking
// std::span<const ad::Var<T>>.
template <class T, class F>
std::vector<ad::Matrix<double>> weighted_gradients(F f,
                                                   const std::vector<ad::Matrix<double>>& inputs) {
  ad::Tape<T> tape;
  std::vector<ad::Var<T>> x;
  for (const auto& m : inputs) x.push_back(tape.variable(m.cast<T>()));
  const ad::Var<T> y = f(std::span<const ad::Var<T>>(x));
  std::mt19937_64 rng(99);
  const ad::Matrix<double> v = ad::random_uniform<double>(y.rows(), y.cols(), rng, -1, 1);
  tape.backward(y, v.cast<T>());
  std::vector<ad::Matrix<double>> g;
  for (const auto& xk : x) g.push_back(xk.grad().template cast<double>());
  return g;
}

// f's gradient on a float tape agrees with the double tape's within 1e-5 of
// max(1, max |gradient|), for each input.
template <class F>
void check_float_agrees(const std::string& name, F f,
                        const std::vector<ad::Matrix<double>>& inputs) {
  const auto single = weighted_gradients<float>(f, inputs);
  const auto dbl = weighted_gradients<double>(f, inputs);
  std::string shapes;
  for (const auto& m : inputs) shapes += fmt::format(" {}x{}", m.rows(), m.cols());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const double error = (single[k] - dbl[k]).cwiseAbs().maxCoeff();
    const double scale = std::max(1.0, dbl[k].cwiseAbs().maxCoeff());
    BOOST_TEST(error <= 1e-5 * scale,
               name << " on" << shapes << ", input " << k << ": float differs by " << error);
  }
}

}  // namespace ad_test
