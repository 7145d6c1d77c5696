// Random expression graphs over every op, each checked against central differences.
//
// ctest runs the quick set: 2000 graphs from seed 1. To run any number from any seed:
//   test_random_expressions -- --count=100000 --seed=5000
// or set AD_RANDOM_EXPRESSIONS (the count) and AD_RANDOM_SEED (the first seed). A failure
// prints the seed, the expression (ops and shapes), the inputs and the gradcheck report;
// `--count=1 --seed=<seed>` replays it alone.

#define BOOST_TEST_MODULE random_expressions
#include "random_expression.hpp"

#include <ad/op_table.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <set>
#include <string>

namespace {

struct Options {
  std::uint64_t count = 2000;
  std::uint64_t seed = 1;
};

Options options() {
  Options o;
  if (const char* v = std::getenv("AD_RANDOM_EXPRESSIONS")) o.count = std::stoull(v);
  if (const char* v = std::getenv("AD_RANDOM_SEED")) o.seed = std::stoull(v);
  const auto& suite = boost::unit_test::framework::master_test_suite();
  for (int i = 1; i < suite.argc; ++i) {
    const std::string arg = suite.argv[i];
    if (arg.starts_with("--count=")) o.count = std::stoull(arg.substr(8));
    if (arg.starts_with("--seed=")) o.seed = std::stoull(arg.substr(7));
  }
  return o;
}

std::string describe(const ad::testing::RandomExpression& e) {
  std::string s =
      fmt::format("seed {} (replay: --count=1 --seed={})\n{}\n", e.seed, e.seed, e.text());
  for (std::size_t k = 0; k < e.inputs.size(); ++k) {
    s += fmt::format("x{} = {:.17g}\n", k, e.inputs[k]);
  }
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(random_graphs_pass_gradcheck) {
  const Options o = options();
  const auto start = std::chrono::steady_clock::now();
  std::size_t nodes = 0;
  for (std::uint64_t seed = o.seed; seed < o.seed + o.count; ++seed) {
    const ad::testing::RandomExpression e = ad::testing::random_expression(seed);
    nodes += e.steps.size();
    try {
      const ad::GradcheckResult r = ad::gradcheck_jacobian(e, e.inputs);
      BOOST_TEST(r.passed, describe(e) << fmt::format("{}", r));
    } catch (const std::exception& error) {
      BOOST_ERROR(describe(e) << "threw: " << error.what());
    }
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  BOOST_TEST_MESSAGE(fmt::format("{} graphs ({} ops) from seed {} in {:.2f} s", o.count, nodes,
                                 o.seed, took.count()));
}

// The quick set reaches every op of the engine: every name in the op table.
BOOST_AUTO_TEST_CASE(the_quick_set_reaches_every_op) {
  std::set<std::string> all;
  for (const ad::OpInfo& op : ad::op_table()) all.emplace(op.name);
  std::set<std::string> seen;
  const std::regex call("([a-z_][a-z_0-9]*)\\(");  // op names may hold digits (log1p)
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    const std::string text = ad::testing::random_expression(seed).text();
    for (std::sregex_iterator it(text.begin(), text.end(), call), end; it != end; ++it) {
      seen.insert((*it)[1]);
    }
  }
  for (const auto& op : all) BOOST_TEST(seen.count(op) == 1, op << " never generated");
}
