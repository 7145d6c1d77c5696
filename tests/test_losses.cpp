#define BOOST_TEST_MODULE losses
#include <boost/test/unit_test.hpp>

#include <ad/ad.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "float_agreement.hpp"

namespace {

using Mat = ad::Matrix<double>;

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

const std::vector<ad::Shape> kShapes = {{1, 1}, {1, 5}, {4, 1}, {3, 2}, {2, 7}, {10, 3}};

bool contains(const std::exception& e, const std::string& part) {
  return std::string(e.what()).find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_gradcheck_on_several_shapes) {
  std::mt19937_64 rng(1);
  for (ad::Shape s : kShapes) {
    const std::vector<int> labels = random_labels(s.rows, s.cols, rng);
    auto f = [&](std::span<const ad::Var<double>> x) {
      return softmax_cross_entropy(x[0], std::span<const int>(labels));
    };
    const ad::GradcheckResult r =
        ad::gradcheck(f, {ad::random_normal<double>(s.rows, s.cols, rng)});
    BOOST_TEST(r.passed, "shape " << ad::to_string(s) << ": " << ad::to_string(r));
  }
}

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_matches_textbook_definition) {
  std::mt19937_64 rng(2);
  const Mat z = ad::random_normal<double>(6, 9, rng, 0.0, 3.0);
  const std::vector<int> labels = random_labels(6, 9, rng);
  ad::Tape<double> tape;
  auto loss = softmax_cross_entropy(tape.variable(z), std::span<const int>(labels));
  BOOST_TEST(loss.value()(0, 0) == static_cast<double>(reference_softmax_ce(z, labels)),
             boost::test_tools::tolerance(1e-12));
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

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_checks_labels) {
  ad::Tape<double> tape;
  auto z = tape.variable(Mat::Zero(3, 2));
  const std::vector<int> one = {0};
  BOOST_CHECK_THROW(softmax_cross_entropy(z, std::span<const int>(one)), ad::ShapeError);
  const std::vector<int> out_of_range = {0, 3};
  BOOST_CHECK_THROW(softmax_cross_entropy(z, std::span<const int>(out_of_range)), ad::Error);
  const std::vector<int> negative = {-1, 0};
  BOOST_CHECK_THROW(softmax_cross_entropy(z, std::span<const int>(negative)), ad::Error);
  try {
    softmax_cross_entropy(z, std::span<const int>(one));
  } catch (const ad::ShapeError& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("softmax_cross_entropy") != std::string::npos, what);
    BOOST_TEST(what.find("3x2") != std::string::npos, what);
    BOOST_TEST(what.find("1x1") != std::string::npos, what);
    BOOST_TEST(what.find("test_losses.cpp") != std::string::npos, what);
  }
}

BOOST_AUTO_TEST_CASE(binary_cross_entropy_gradcheck_on_several_shapes) {
  std::mt19937_64 rng(3);
  for (ad::Shape s : kShapes) {
    // Targets need not be 0 or 1: soft targets in [0, 1] are differentiated too.
    auto f = [](std::span<const ad::Var<double>> x) {
      return binary_cross_entropy_with_logits(x[0], x[1]);
    };
    const ad::GradcheckResult r =
        ad::gradcheck(f, {ad::random_normal<double>(s.rows, s.cols, rng, 0.0, 2.0),
                          ad::random_uniform<double>(s.rows, s.cols, rng, 0.0, 1.0)});
    BOOST_TEST(r.passed, "shape " << ad::to_string(s) << ": " << ad::to_string(r));
  }
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

BOOST_AUTO_TEST_CASE(mse_gradcheck_on_several_shapes) {
  std::mt19937_64 rng(5);
  for (ad::Shape s : kShapes) {
    auto f = [](std::span<const ad::Var<double>> x) { return mse(x[0], x[1]); };
    const ad::GradcheckResult r =
        ad::gradcheck(f, {ad::random_normal<double>(s.rows, s.cols, rng),
                          ad::random_normal<double>(s.rows, s.cols, rng)});
    BOOST_TEST(r.passed, "shape " << ad::to_string(s) << ": " << ad::to_string(r));
  }
}

BOOST_AUTO_TEST_CASE(mse_value_and_limits) {
  ad::Tape<double> tape;
  Mat a(2, 2), b(2, 2);
  a << 1, 2, 3, 4;
  b << 1, 0, 3, 8;
  BOOST_TEST(mse(tape.constant(a), tape.constant(b)).value()(0, 0) == (4.0 + 16.0) / 4);
  BOOST_TEST(mse(tape.constant(a), tape.constant(a)).value()(0, 0) == 0.0);
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

BOOST_AUTO_TEST_CASE(float_tapes_agree_with_double_tapes) {
  std::mt19937_64 rng(6);
  for (ad::Shape s : kShapes) {
    const std::vector<int> labels = random_labels(s.rows, s.cols, rng);
    ad_test::check_float_agrees(
        "softmax_cross_entropy",
        [&](auto x) { return softmax_cross_entropy(x[0], std::span<const int>(labels)); },
        {ad::random_normal<double>(s.rows, s.cols, rng, 0.0, 2.0)});
    ad_test::check_float_agrees("binary_cross_entropy_with_logits",
                                [](auto x) { return binary_cross_entropy_with_logits(x[0], x[1]); },
                                {ad::random_normal<double>(s.rows, s.cols, rng, 0.0, 2.0),
                                 ad::random_uniform<double>(s.rows, s.cols, rng, 0.0, 1.0)});
    ad_test::check_float_agrees("mse", [](auto x) { return mse(x[0], x[1]); },
                                {ad::random_normal<double>(s.rows, s.cols, rng),
                                 ad::random_normal<double>(s.rows, s.cols, rng)});
  }
}

// Shape errors name the loss, both shapes, why and the caller's line.
BOOST_AUTO_TEST_CASE(shape_errors_say_what_and_where) {
  ad::Tape<double> tape;
  const auto a = tape.variable(Mat::Zero(2, 3));
  const auto b = tape.variable(Mat::Zero(3, 2));
  const auto empty = tape.variable(Mat::Zero(0, 3));
  auto expect = [](const std::function<void()>& f, const std::vector<std::string>& parts) {
    try {
      f();
      BOOST_ERROR("no ShapeError; expected one containing '" << parts.front() << "'");
    } catch (const ad::ShapeError& e) {
      for (const auto& part : parts) BOOST_TEST(contains(e, part), e.what());
    }
  };
  expect([&] { mse(a, b); }, {"mse:", "2x3", "3x2", "same shape", "test_losses.cpp"});
  expect([&] { binary_cross_entropy_with_logits(a, b); },
         {"binary_cross_entropy_with_logits:", "2x3", "3x2", "same shape", "test_losses.cpp"});
  expect([&] { mse(empty, empty); }, {"mse:", "0x3", "no elements", "test_losses.cpp"});
  const std::vector<int> none;
  expect([&] { softmax_cross_entropy(tape.variable(Mat::Zero(3, 0)), std::span<const int>(none)); },
         {"softmax_cross_entropy:", "3x0", "no elements", "test_losses.cpp"});
}

// An input that is not a live node of the loss's tape is an ad::Error naming the loss.
BOOST_AUTO_TEST_CASE(invalid_inputs_name_the_loss) {
  ad::Tape<double> mine, other;
  const auto a = mine.variable(Mat::Zero(2, 3));
  const auto b = other.variable(Mat::Zero(2, 3));
  auto expect = [](const std::function<void()>& f, const std::string& part) {
    try {
      f();
      BOOST_ERROR("no ad::Error; expected one containing '" << part << "'");
    } catch (const ad::Error& e) {
      BOOST_TEST(contains(e, part), e.what());
      BOOST_TEST(contains(e, "test_losses.cpp"), e.what());
    }
  };
  expect([&] { mse(a, b); }, "mse: the Var belongs to another tape");
  expect([&] { binary_cross_entropy_with_logits(b, a); },
         "binary_cross_entropy_with_logits: the Var belongs to another tape");
  const std::vector<int> labels = {0, 1, 0};
  mine.clear();
  expect([&] { softmax_cross_entropy(a, std::span<const int>(labels)); },
         "softmax_cross_entropy: the Var was recorded before");
}
