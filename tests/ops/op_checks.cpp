#include "op_checks.hpp"

#include <Eigen/QR>

#include <algorithm>
#include <map>
#include <sstream>

namespace ad_test {

Mat draw(Input input, std::mt19937_64& rng) {
  const auto [rows, cols] = input.shape;
  const Mat m = ad::random_uniform<double>(rows, cols, rng, -2, 2);
  switch (input.domain) {
    case Domain::any:
      return m;
    case Domain::positive:
      return (m.array().abs() + 0.2).matrix();
    case Domain::away_from_zero:
      return (m.array().sign() * (m.array().abs() + 0.1)).matrix();
    case Domain::unit_interval:
      return ((m.array() + 2) / 4).matrix();
    case Domain::probabilities: {
      Mat p = (m.array().abs() + 0.2).matrix();
      p.array().rowwise() /= p.colwise().sum().array();
      return p;
    }
    case Domain::regular:
    case Domain::negative_det: {
      // Each row's off-diagonal sum is at most 0.6 (n − 1), below its diagonal's n − 0.6.
      Mat a = m * 0.3 + Mat::Identity(rows, cols) * static_cast<double>(rows);
      if (input.domain == Domain::negative_det) a.row(0) *= -1;
      return a;
    }
    case Domain::spd:
      return m * m.transpose() / static_cast<double>(cols) + 0.1 * Mat::Identity(rows, rows);
    case Domain::separated_eigenvalues: {
      // A random rotation of diag(1, 2, …, n), plus a symmetric part of norm below 0.1 · n / n.
      const Eigen::HouseholderQR<Mat> qr(m);
      const Mat q = qr.householderQ();
      const Mat values =
          Eigen::VectorXd::LinSpaced(rows, 1, static_cast<double>(rows)).asDiagonal();
      return q * values * q.transpose() + 0.01 * (m + m.transpose()) / static_cast<double>(rows);
    }
    case Domain::separated_singular_values: {
      Mat a = 0.02 * m / static_cast<double>(std::max(rows, cols));
      const Eigen::Index k = std::min(rows, cols);
      for (Eigen::Index i = 0; i < k; ++i) a(i, i) += static_cast<double>(k - i);
      return a;
    }
    case Domain::full_column_rank:
      return m * 0.3 + Mat::Identity(rows, cols) * static_cast<double>(cols);
    case Domain::small:
      return m * 0.25;
  }
  return m;
}

std::vector<Mat> draw(const Sample& sample, std::mt19937_64& rng) {
  std::vector<Mat> inputs;
  for (const Input& input : sample) inputs.push_back(draw(input, rng));
  return inputs;
}

std::string shapes_of(const std::vector<Mat>& inputs) {
  std::string shapes;
  for (const auto& m : inputs) shapes += fmt::format(" {}x{}", m.rows(), m.cols());
  return shapes;
}

bool contains(const std::exception& e, const std::string& part) {
  return std::string(e.what()).find(part) != std::string::npos;
}

void check_catalog_case(const CatalogCase& c) {
  std::ostringstream name;
  name << c;
  BOOST_TEST(!c.samples.empty(), name.str() << ": no samples");
  std::mt19937_64 rng(std::hash<std::string>{}(c.label));
  for (const Sample& sample : c.samples) check_op(name.str(), c.f, draw(sample, rng));
}

bool register_catalog(Family family) {
  boost::unit_test::test_suite* suite = BOOST_TEST_SUITE("catalog");
  std::map<std::string_view, int> cases_of_op;
  for (const CatalogCase& c : cases_of(family)) {
    const std::string name = fmt::format("{}_{}", c.name, cases_of_op[c.name]++);
    suite->add(
        boost::unit_test::make_test_case([c] { check_catalog_case(c); }, name, __FILE__, __LINE__));
  }
  boost::unit_test::framework::master_test_suite().add(suite);
  return true;
}

}  // namespace ad_test
