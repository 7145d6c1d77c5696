// The catalog (catalog.cpp) against the op table (ad::op_table()), by content: every row,
// named by its name and its `also`, has a case, and every case names a row; each row's
// cases sit in one family, and the families follow the table's order. Also: a float tape
// records every op at once.

#define BOOST_TEST_MODULE ops_catalog
#include "op_checks.hpp"

#include <ad/op_table.hpp>

#include <map>
#include <optional>
#include <set>
#include <utility>

namespace {

using Row = std::pair<std::string, std::string>;  // name, also

std::string describe(const Row& row) {
  return row.second.empty() ? row.first : row.first + " (" + row.second + ")";
}

std::vector<Row> table_rows() {
  std::vector<Row> rows;
  for (const ad::OpInfo& op : ad::op_table()) rows.emplace_back(op.name, op.also);
  return rows;
}

Row row_of(const ad_test::CatalogCase& c) { return {std::string(c.name), std::string(c.also)}; }

}  // namespace

BOOST_AUTO_TEST_CASE(every_op_table_row_has_a_catalog_case) {
  std::set<Row> covered;
  for (const auto& c : ad_test::catalog()) covered.insert(row_of(c));
  for (const Row& row : table_rows()) {
    BOOST_TEST(covered.count(row) == 1, describe(row) << ": no case in tests/ops/catalog.cpp");
  }
}

BOOST_AUTO_TEST_CASE(every_catalog_case_names_an_op_table_row) {
  const std::vector<Row> rows = table_rows();
  const std::set<Row> table(rows.begin(), rows.end());
  BOOST_TEST(table.size() == rows.size(), "two op table rows with the same name and also");
  for (const auto& c : ad_test::catalog()) {
    BOOST_TEST(table.count(row_of(c)) == 1, "the case '" << c.label << "' names "
                                                         << describe(row_of(c))
                                                         << ", which is no row of ad::op_table()");
    BOOST_TEST(!c.samples.empty(), "the case '" << c.label << "' has no samples");
  }
}

// ad::op_table() lists the rows family by family, as the files of autodiff/src/ops/: read in
// that order, the catalog's families must not come back to one already left.
BOOST_AUTO_TEST_CASE(each_row_is_in_one_family_in_the_table_order) {
  std::map<Row, std::set<ad_test::Family>> families;
  for (const auto& c : ad_test::catalog()) families[row_of(c)].insert(c.family);
  std::set<ad_test::Family> left;
  std::optional<ad_test::Family> current;
  for (const Row& row : table_rows()) {
    const auto found = families.find(row);
    if (found == families.end()) continue;  // every_op_table_row_has_a_catalog_case reports it
    BOOST_TEST(found->second.size() == 1, describe(row) << ": cases in more than one family");
    const ad_test::Family family = *found->second.begin();
    if (current && family != *current) {
      left.insert(*current);
      BOOST_TEST(left.count(family) == 0, describe(row) << " is in family " << to_string(family)
                                                        << ", which the table already left");
    }
    current = family;
  }
}

BOOST_AUTO_TEST_CASE(float_tapes_record_every_op) {
  ad::Tape<float> tape;
  const auto a = tape.variable(ad::Matrix<float>::Identity(2, 2) * 2 +
                               ad::Matrix<float>::Constant(2, 2, 0.5f));
  const auto v = tape.variable(ad::Matrix<float>::Ones(2, 1));
  const auto y = sum(solve(a, v)) + logdet(a) + det(inverse(a)) + trace(a) + dot(a, a) + norm(a) +
                 sum(diag(v)) + sum(outer(v, v)) + sum(pow(a + 1.0, 2.0)) + sum(sqrt(a + 1.0f)) +
                 sum(abs(a)) + sum(square(a)) + sum(softplus(a)) + sum(log_sigmoid(a)) +
                 sum(clamp(a, 0.0, 1.0)) + sum(a / a) + sum(mean(a, ad::Axis::cols)) +
                 sum(max(a, ad::Axis::rows)) + sum(reshape(a, 1, 4)) + sum(block(a, 0, 0, 1, 1)) +
                 sum(row(a, 0)) + sum(col(a, 1)) + sum(hcat(a, v)) + sum(vcat(a, a)) +
                 sum(broadcast_to(v, 2, 3)) + sum(softmax(a)) + sum(log_softmax(a)) +
                 softmax_cross_entropy(a, softmax(a)) + sum(a, ad::Axis::rows) * v;
  tape.backward(y);
  BOOST_TEST(a.grad().allFinite());
}

// The float defaults of ad::gradcheck (step 1e-2, tolerance 1e-3 + 1e-2·|numeric|, derived
// in <ad/gradcheck.hpp>) hold for every op: each case at each sample, weighted as the
// double check weights it, passes on a float tape.
BOOST_AUTO_TEST_CASE(the_float_gradcheck_passes_every_case_with_its_defaults) {
  for (const auto& c : ad_test::catalog()) {
    std::mt19937_64 rng(std::hash<std::string>{}(c.label));
    for (const ad_test::Sample& sample : c.samples) {
      std::vector<ad::Matrix<float>> inputs;
      for (const auto& m : ad_test::draw(sample, rng)) inputs.push_back(m.cast<float>());
      auto weighted = [&](std::span<const ad::Var<float>> x) {
        return ad_test::weighted_sum(c.f(x), 99);
      };
      const ad::GradcheckResult r = ad::gradcheck(weighted, inputs);
      BOOST_TEST(r.passed, c << ":\n" << fmt::format("{}", r));
    }
  }
}
