// Softmax and the losses (softmax, log_softmax, softmax_cross_entropy against probabilities
// and against labels, binary_cross_entropy_with_logits, mse): the catalog's gradient checks,
// values against the textbook definitions, stability at logits of magnitude 1e4, labels,
// accumulation, and the errors for inputs that do not fit.

#define BOOST_TEST_MODULE ops_softmax_losses
#include "op_checks.hpp"

#include <cmath>

using ad_test::Mat;
using V = ad::Var<double>;

namespace {

const std::string here = "test_softmax_losses.cpp";

std::vector<int> random_labels(Eigen::Index classes, Eigen::Index n, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> pick(0, static_cast<int>(classes) - 1);
  std::vector<int> labels(static_cast<std::size_t>(n));
  for (int& l : labels) l = pick(rng);
  return labels;
}

// The textbook definition, in long double, as an independent reference.
long double reference_softmax_ce(const Mat& z, const std::vector<int>& labels) {
  long double total = 0;
  for (Eigen::Index j = 0; j < z.cols(); ++j) {
    long double norm = 0;
    for (Eigen::Index i = 0; i < z.rows(); ++i) norm += std::exp(static_cast<long double>(z(i, j)));
    total -= std::log(std::exp(static_cast<long double>(z(labels[j], j))) / norm);
  }
  return total / z.cols();
}

}  // namespace

// The family's catalog cases, one test case each (catalog/<op>_<k>).
[[maybe_unused]] const bool catalog_registered =
    ad_test::register_catalog(ad_test::Family::softmax_losses);

BOOST_AUTO_TEST_SUITE(stability)

BOOST_AUTO_TEST_CASE(softmax_at_logits_of_magnitude_1e4) {
  ad::Tape<double> tape;
  tape.check_finite(true);
  Mat z(3, 2);
  z << 1e4, -1e4, -1e4, 1e4, 0, 0;
  Mat p(3, 2);
  p << 1, 0, 0, 0, 0, 1;  // the second column's target is the least likely class
  const V x = tape.variable(z);
  const V s = softmax(x);
  BOOST_TEST(s.value()(0, 0) == 1.0);
  BOOST_TEST(s.value()(1, 1) == 1.0);
  const V ls = log_softmax(x);
  BOOST_TEST(ls.value()(1, 0) == -2e4);
  BOOST_TEST(ls.value()(2, 1) == -1e4);
  const V l = softmax_cross_entropy(x, tape.constant(p));
  BOOST_TEST(l.value()(0, 0) == 1e4 / 2);
  tape.backward(l);
  Mat expected(3, 2);  // (softmax(Z) − P) / N
  expected << 0, 0, 0, 0.5, 0, -0.5;
  // Eigen's vectorised exp clamps its argument near −709, so e^−1e4 may read 1e-309, not 0.
  BOOST_TEST((x.grad() - expected).cwiseAbs().maxCoeff() < 1e-300);
  tape.backward(sum(s) + sum(ls));
  BOOST_TEST(x.grad().allFinite());
}

// z − m is exact near the max, so log_softmax keeps float's relative precision at 1e4, where
// forming lse(z) = m + ln s first would round it to float's spacing there (about 1e-3).
BOOST_AUTO_TEST_CASE(log_softmax_in_float_at_1e4_is_precise) {
  ad::Tape<float> tape;
  Eigen::MatrixXf z(2, 1);
  z << 1e4f, 1e4f - 1;
  const auto x = tape.variable(z);
  const double ln_s = std::log1p(std::exp(-1.0));
  const Eigen::MatrixXf c = log_softmax(x).value();
  BOOST_TEST(std::abs(c(0, 0) + ln_s) < 1e-6);
  BOOST_TEST(std::abs(c(1, 0) + 1 + ln_s) < 1e-6);
  Eigen::MatrixXf p(2, 1);
  p << 0.25f, 0.75f;
  const auto l = softmax_cross_entropy(x, tape.constant(p));
  BOOST_TEST(std::abs(l.value()(0, 0) - (0.75 + ln_s)) < 1e-6);
}

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_is_stable_at_large_logits) {
  ad::Tape<float> tape;
  Eigen::MatrixXf z(3, 2);
  z << 1e4f, -1e4f,  //
      -1e4f, 1e4f,   //
      0.f, 1e4f;
  const std::vector<int> labels = {0, 0};
  auto zv = tape.variable(z);
  auto loss = softmax_cross_entropy(zv, std::span<const int>(labels));
  tape.backward(loss);
  // Column 0 is certain and right (loss 0); column 1 puts e^0.5·... on classes 1 and 2
  // equally and nothing on the label: loss 1e4 − (−1e4) + ln 2 = 2e4 + ln 2.
  const double expected = (0.0 + 2e4 + std::log(2.0)) / 2;
  BOOST_TEST(std::isfinite(loss.value()(0, 0)));
  BOOST_TEST(loss.value()(0, 0) == expected, boost::test_tools::tolerance(1e-6));
  Eigen::MatrixXf g = zv.grad();
  BOOST_TEST(g.allFinite());
  // Z̄ = (softmax(Z) − Y) / N
  Eigen::MatrixXf expected_grad(3, 2);
  expected_grad << 0.f, -0.5f,  //
      0.f, 0.25f,               //
      0.f, 0.25f;
  BOOST_TEST(g.isApprox(expected_grad, 1e-6f), "gradient " << g);
}

BOOST_AUTO_TEST_CASE(binary_cross_entropy_is_stable_at_large_logits) {
  ad::Tape<float> tape;
  Eigen::MatrixXf z(1, 4);
  z << 1e4f, -1e4f, 1e4f, -1e4f;
  Eigen::MatrixXf p(1, 4);
  p << 1.f, 0.f, 0.f, 1.f;
  auto zv = tape.variable(z);
  auto loss = binary_cross_entropy_with_logits(zv, tape.constant(p));
  tape.backward(loss);
  // Right and certain: 0; wrong and certain: |z| = 1e4 each.
  BOOST_TEST(loss.value()(0, 0) == 2e4f / 4, boost::test_tools::tolerance(1e-6f));
  Eigen::MatrixXf expected_grad(1, 4);
  expected_grad << 0.f, 0.f, 0.25f, -0.25f;  // (σ(z) − p) / 4
  Eigen::MatrixXf g = zv.grad();
  BOOST_TEST(g.isApprox(expected_grad), "gradient " << g);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_matches_textbook_definition) {
  std::mt19937_64 rng(2);
  const Mat z = ad::random_normal<double>(6, 9, rng, 0.0, 3.0);
  const std::vector<int> labels = random_labels(6, 9, rng);
  ad::Tape<double> tape;
  auto loss = softmax_cross_entropy(tape.variable(z), std::span<const int>(labels));
  BOOST_TEST(loss.value()(0, 0) == static_cast<double>(reference_softmax_ce(z, labels)),
             boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_checks_labels) {
  ad::Tape<double> tape;
  auto z = tape.variable(Mat::Zero(3, 2));
  const std::vector<int> one = {0};
  BOOST_CHECK_THROW(softmax_cross_entropy(z, std::span<const int>(one)), ad::ShapeError);
  const std::vector<int> out_of_range = {0, 3};
  BOOST_CHECK_THROW(softmax_cross_entropy(z, std::span<const int>(out_of_range)), ad::Error);
  const std::vector<int> negative = {-1, 0};
  BOOST_CHECK_THROW(softmax_cross_entropy(z, std::span<const int>(negative)), ad::Error);
  ad_test::check_error([&] { softmax_cross_entropy(z, std::span<const int>(one)); },
                       {"softmax_cross_entropy", "3x2", "1x1", here});
}

BOOST_AUTO_TEST_CASE(binary_cross_entropy_matches_textbook_definition) {
  std::mt19937_64 rng(4);
  const Mat z = ad::random_normal<double>(3, 5, rng);
  const Mat p = ad::random_uniform<double>(3, 5, rng, 0.0, 1.0);
  ad::Tape<double> tape;
  auto loss = binary_cross_entropy_with_logits(tape.constant(z), tape.constant(p));
  const Mat sigma = (1.0 + (-z.array()).exp()).inverse().matrix();
  const double expected =
      -(p.array() * sigma.array().log() + (1.0 - p.array()) * (1.0 - sigma.array()).log()).mean();
  BOOST_TEST(loss.value()(0, 0) == expected, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(mse_value_and_limits) {
  ad::Tape<double> tape;
  Mat a(2, 2), b(2, 2);
  a << 1, 2, 3, 4;
  b << 1, 0, 3, 8;
  BOOST_TEST(mse(tape.constant(a), tape.constant(b)).value()(0, 0) == (4.0 + 16.0) / 4);
  BOOST_TEST(mse(tape.constant(a), tape.constant(a)).value()(0, 0) == 0.0);
}

BOOST_AUTO_TEST_CASE(a_loss_used_twice_accumulates) {
  ad::Tape<double> tape;
  Mat z(2, 1);
  z << 0.5, -0.5;
  const std::vector<int> labels = {1};
  auto zv = tape.variable(z);
  auto once = softmax_cross_entropy(zv, std::span<const int>(labels));
  tape.backward(once);
  const Mat g1 = zv.grad();
  tape.backward(once + softmax_cross_entropy(zv, std::span<const int>(labels)));
  BOOST_TEST(Mat(zv.grad()).isApprox(2 * g1));
}

BOOST_AUTO_TEST_CASE(losses_check_shapes) {
  ad::Tape<double> tape;
  auto a = tape.variable(Mat::Zero(2, 3));
  auto b = tape.variable(Mat::Zero(3, 2));
  auto empty = tape.variable(Mat::Zero(0, 3));
  BOOST_CHECK_THROW(mse(a, b), ad::ShapeError);
  BOOST_CHECK_THROW(binary_cross_entropy_with_logits(a, b), ad::ShapeError);
  BOOST_CHECK_THROW(mse(empty, empty), ad::ShapeError);
  const std::vector<int> none;
  BOOST_CHECK_THROW(
      softmax_cross_entropy(tape.variable(Mat::Zero(3, 0)), std::span<const int>(none)),
      ad::ShapeError);
}

// A shape error names the op, the shapes, why, and the caller's line in this file.
BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_the_shapes_and_why) {
  using ad_test::check_error;
  ad::Tape<double> tape;
  const V m23 = tape.variable(Mat::Zero(2, 3));
  const V m32 = tape.variable(Mat::Zero(3, 2));
  const V e02 = tape.variable(Mat::Ones(0, 2));
  const V e03 = tape.variable(Mat::Zero(0, 3));
  check_error([&] { softmax(e02); }, {"softmax", "0x2", "one class", here});
  check_error([&] { log_softmax(e02); }, {"log_softmax", "0x2", here});
  check_error([&] { softmax_cross_entropy(m23, m32); },
              {"softmax_cross_entropy", "2x3", "3x2", "logits' shape", here});
  check_error([&] { mse(m23, m32); }, {"mse:", "2x3", "3x2", "same shape", here});
  check_error([&] { binary_cross_entropy_with_logits(m23, m32); },
              {"binary_cross_entropy_with_logits:", "2x3", "3x2", "same shape", here});
  check_error([&] { mse(e03, e03); }, {"mse:", "0x3", "no elements", here});
  const std::vector<int> none;
  check_error(
      [&] { softmax_cross_entropy(tape.variable(Mat::Zero(3, 0)), std::span<const int>(none)); },
      {"softmax_cross_entropy:", "3x0", "no elements", here});
}

BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_op) {
  using ad_test::check_invalid_inputs;
  check_invalid_inputs(
      "softmax", [](const V& a) { softmax(a); }, here);
  check_invalid_inputs(
      "log_softmax", [](const V& a) { log_softmax(a); }, here);
  check_invalid_inputs(
      "softmax_cross_entropy", [](const V& a, const V& b) { softmax_cross_entropy(a, b); }, here);
  const std::vector<int> labels = {0, 1};
  check_invalid_inputs(
      "softmax_cross_entropy",
      [&](const V& a) { softmax_cross_entropy(a, std::span<const int>(labels)); }, here);
  check_invalid_inputs(
      "mse", [](const V& a, const V& b) { mse(a, b); }, here);
  check_invalid_inputs(
      "binary_cross_entropy_with_logits",
      [](const V& a, const V& b) { binary_cross_entropy_with_logits(a, b); }, here);
}
