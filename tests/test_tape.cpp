// The tape's contract: the invariants of docs/design.md, one test each, and the defined behaviour
// of repeated sweeps, rewinding and misuse.

#define BOOST_TEST_MODULE tape
#include <ad/ad.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

// Counts every heap allocation in this program, to prove that re-recording allocates nothing.
#include "count_allocations.hpp"

using Mat = ad::Matrix<double>;

namespace {

bool message_contains(const std::exception& e, const std::string& part) {
  return std::string(e.what()).find(part) != std::string::npos;
}

// Runs f, which must throw E with a message containing every one of parts.
template <class E, class F>
void check_message(F f, std::initializer_list<std::string> parts) {
  try {
    f();
    BOOST_ERROR("no exception thrown");
  } catch (const E& e) {
    for (const auto& part : parts) BOOST_TEST(message_contains(e, part), e.what());
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(invariant_1_every_adjoint_has_its_values_shape) {
  ad::Tape<double> tape;
  std::mt19937_64 rng(1);
  auto W = tape.variable(ad::random_normal<double>(3, 4, rng));
  auto x = tape.variable(ad::random_normal<double>(4, 2, rng));
  auto b = tape.variable(ad::random_normal<double>(3, 1, rng));
  auto h = tanh(W * x + b);                             // 3x2, b broadcast over columns
  auto s = hadamard(transpose(h), transpose(h) - 1.0);  // 2x3
  auto y = mean(s);
  tape.backward(y);
  for (const auto& v : {W, x, b, h, s, y}) {
    BOOST_TEST(v.grad().rows() == v.rows());
    BOOST_TEST(v.grad().cols() == v.cols());
  }
}

#ifdef AD_DEBUG_CHECKS
// An op whose adjoint rule writes a 2x1 adjoint into a 2x2 input: debug builds report it
// as an ad::Error naming the op instead of corrupting memory.
struct BrokenOp {
  static constexpr const char* name = "broken_op";
  static ad::Shape shape(const ad::InputShapes<double>&) { return {1, 1}; }
  static void value(const ad::Rule<double>& r) { r.y().setZero(); }
  static void adjoint(const ad::Rule<double>& r) { r.accumulate(0, Mat::Ones(2, 1)); }
};

BOOST_AUTO_TEST_CASE(invariant_1_debug_builds_catch_an_adjoint_of_the_wrong_shape) {
  ad::Tape<double> tape;
  auto a = tape.variable(Mat::Ones(2, 2));
  auto broken = ad::custom_op<BrokenOp>({a});
  check_message<ad::Error>([&] { tape.backward(broken); }, {"broken_op"});
}
#endif

BOOST_AUTO_TEST_CASE(invariant_2_shape_errors_name_op_shapes_reason_and_caller_line) {
  ad::Tape<double> tape;
  auto W = tape.variable(Mat::Ones(2, 2));
  auto v = tape.variable(Mat::Ones(1, 2));
  const int line = __LINE__ + 1;
  check_message<ad::ShapeError>([&] { return W * v; },
                                {"matmul", "2x2", "1x2", "A has 2 columns but B has 1 rows",
                                 "test_tape.cpp:" + std::to_string(line)});
}

// A 1x1 op whose adjoint rule only counts its calls.
struct CountedOp {
  static constexpr const char* name = "counted";
  static inline int calls = 0;
  static ad::Shape shape(const ad::InputShapes<double>&) { return {1, 1}; }
  static void value(const ad::Rule<double>& r) { r.y().setZero(); }
  static void adjoint(const ad::Rule<double>&) { ++calls; }
};

BOOST_AUTO_TEST_CASE(invariant_3_adjoints_accumulate_over_every_use) {
  ad::Tape<double> tape;
  const Mat X{{1, -2, 3}, {0.5, 4, -1}};
  auto x = tape.variable(X);
  tape.backward(sum(hadamard(x, x)) + sum(x));  // d/dx = 2x + 1
  BOOST_TEST((x.grad() - (2 * X.array() + 1).matrix()).cwiseAbs().maxCoeff() == 0);

  const Mat A{{1, 2}, {3, 4}};
  auto a = tape.variable(A);
  tape.backward(sum(a * a));  // d/dA sum(A A) = 𝟙𝟙ᵀ Aᵀ + Aᵀ 𝟙𝟙ᵀ
  const Mat ones = Mat::Ones(2, 2);
  const Mat expected = ones * A.transpose() + A.transpose() * ones;
  BOOST_TEST((a.grad() - expected).cwiseAbs().maxCoeff() == 0);
}

BOOST_AUTO_TEST_CASE(invariant_4_a_parameter_is_referred_to_not_copied) {
  ad::Parameter<double> p(Mat{{1, 2}, {3, 4}});
  ad::Tape<double> tape;
  auto w = tape.parameter(p);
  BOOST_TEST(w.value().data() == p.value().data());
  p.value()(0, 0) = 10;  // an in-place update is seen through the tape's node
  BOOST_TEST(w.value()(0, 0) == 10);

  tape.backward(sum(w));
  tape.backward(sum(3.0 * w));
  // Parameter gradients accumulate over sweeps until zeroed.
  BOOST_TEST((p.grad().array() == 4.0).all());
  p.zero_grad();
  BOOST_TEST((p.grad().array() == 0.0).all());
}

// zero_grad() only marks the gradient: it reads as zero until a sweep writes it, the sweep
// assigns its first contribution (no stale values survive) and later sweeps add.
BOOST_AUTO_TEST_CASE(a_zeroed_gradient_is_assigned_by_the_next_sweep) {
  ad::Parameter<double> p(Mat{{1, 2}, {3, 4}});
  ad::Parameter<double> unused(Mat{{5}});
  ad::Tape<double> tape;
  auto w = tape.parameter(p);
  auto u = tape.parameter(unused);
  tape.backward(sum(w));
  tape.backward(sum(w));  // accumulates: 2
  p.zero_grad();
  BOOST_TEST(w.grad().isZero(0));  // through the tape too, though the last sweep wrote it
  BOOST_TEST((p.grad().array() == 0.0).all());  // read before a sweep: zeros

  p.zero_grad();
  unused.zero_grad();
  tape.backward(sum(5.0 * w));
  BOOST_TEST((p.grad().array() == 5.0).all());       // assigned, not added to the old 2
  BOOST_TEST((unused.grad().array() == 0.0).all());  // not reached: still zero
  BOOST_TEST(u.grad().isZero());
  tape.backward(sum(w));
  BOOST_TEST((p.grad().array() == 6.0).all());  // the next sweep adds

  // A new tape, the same parameter: zeroed, then reached.
  p.zero_grad();
  tape.clear();
  auto w2 = tape.parameter(p);
  tape.backward(sum(hadamard(w2, w2)));
  BOOST_TEST((p.grad() - 2.0 * p.value()).cwiseAbs().maxCoeff() == 0);
}

// A parameter recorded twice on one tape is one node, so that a zeroed gradient gets both
// uses' contributions (two nodes would each assign theirs).
BOOST_AUTO_TEST_CASE(a_parameter_recorded_twice_is_one_node_and_gets_every_contribution) {
  ad::Parameter<double> p(Mat{{1, 2}, {3, 4}});
  ad::Tape<double> tape;
  auto first = tape.parameter(p);
  auto second = tape.parameter(p);
  BOOST_TEST(first.index() == second.index());
  BOOST_TEST(tape.size() == 1u);
  p.zero_grad();
  tape.backward(sum(first) + sum(2.0 * second));
  BOOST_TEST((p.grad().array() == 3.0).all());

  p.value().resize(3, 3);
  p.grad().resize(3, 3);
  try {
    tape.parameter(p);
    BOOST_ERROR("no ShapeError");
  } catch (const ad::ShapeError& e) {
    BOOST_TEST(
        std::string(e.what()).find("resized since this tape recorded it") != std::string::npos,
        e.what());
  }
}

BOOST_AUTO_TEST_CASE(invariant_5_backward_visits_only_nodes_that_lead_to_the_output) {
  ad::Tape<double> tape;
  auto x = tape.variable(Mat::Ones(3, 3));
  auto unused = exp(x) * x;  // 2 ops that do not lead to y
  auto y = sum(sigmoid(x));  // 2 ops that do
  auto after = tanh(y);      // recorded after y: not visited either
  tape.backward(y);
  BOOST_TEST(tape.rules_run() == 2u);
  // The nodes not visited read as zero adjoints.
  BOOST_TEST(unused.grad().isZero());
  BOOST_TEST(after.grad().isZero());

  // A rule on an unrelated branch is never called.
  CountedOp::calls = 0;
  auto counted = ad::custom_op<CountedOp>({x});
  tape.backward(y);
  BOOST_TEST(CountedOp::calls == 0);
  tape.backward(counted);
  BOOST_TEST(CountedOp::calls == 1);
}

BOOST_AUTO_TEST_CASE(invariant_6_tapes_in_two_threads_do_not_touch_each_other) {
  auto gradient = [](int seed) {
    std::mt19937_64 rng(seed);
    ad::Tape<double> tape;
    Mat grad;
    for (int repeat = 0; repeat < 200; ++repeat) {
      tape.clear();
      auto W = tape.variable(ad::random_normal<double>(8, 8, rng));
      auto x = tape.constant(Mat::Ones(8, 1));
      tape.backward(sum(sigmoid(W * sigmoid(W * x))));
      grad = W.grad();
    }
    return grad;
  };
  Mat in_thread_1, in_thread_2;
  std::thread t1([&] { in_thread_1 = gradient(7); });
  std::thread t2([&] { in_thread_2 = gradient(7); });
  t1.join();
  t2.join();
  BOOST_TEST((in_thread_1 - gradient(7)).isZero(0));
  BOOST_TEST((in_thread_2 - in_thread_1).isZero(0));
}

BOOST_AUTO_TEST_CASE(invariant_7_handles_from_another_tape_or_before_a_rewind_are_errors) {
  ad::Tape<double> first, second;
  auto a = first.variable(Mat::Ones(2, 2));
  auto b = second.variable(Mat::Ones(2, 2));
  check_message<ad::Error>([&] { return a + b; }, {"add: the Var belongs to another tape"});
  BOOST_CHECK_THROW(second.backward(sum(a)), ad::Error);

  first.clear();
  check_message<ad::Error>([&] { return sigmoid(a); },
                           {"sigmoid: the Var was recorded before tape.clear()"});
  BOOST_CHECK_THROW(a.value(), ad::Error);
  BOOST_CHECK_THROW(a.grad(), ad::Error);

  const ad::Var<double> empty;
  check_message<ad::Error>([&] { return relu(empty); }, {"relu: an empty"});
}

BOOST_AUTO_TEST_CASE(backward_twice_gives_the_same_gradient_not_the_sum) {
  ad::Tape<double> tape;
  auto x = tape.variable(Mat{{0.3, -0.7}});
  auto y = sum(exp(x));
  tape.backward(y);
  const Mat once = x.grad();
  tape.backward(y);
  BOOST_TEST((x.grad() - once).isZero(0));
  BOOST_TEST((once - x.value().array().exp().matrix()).cwiseAbs().maxCoeff() <= 1e-15);
}

// Rules assign the first contribution to an adjoint in a sweep over whatever the memory
// held: a sweep from another output of the same tape must not see the earlier one's numbers.
BOOST_AUTO_TEST_CASE(a_sweep_from_another_output_starts_from_zero_adjoints) {
  ad::Tape<double> tape;
  const Mat A{{0.5, -1.0}, {2.0, 0.25}};
  auto a = tape.variable(A);
  auto x = tape.variable(Mat{{0.3}, {-0.6}});
  auto h = sigmoid(a * x);
  auto first = sum(h);
  auto second = sum(h - x);  // x reached directly and through h
  tape.backward(first);
  tape.backward(second);
  const Mat hbar = Mat::Ones(2, 1);
  const Mat zbar = (hbar.array() * h.value().array() * (1 - h.value().array())).matrix();
  BOOST_TEST((a.grad() - zbar * x.value().transpose()).cwiseAbs().maxCoeff() <= 1e-15);
  BOOST_TEST((x.grad() - (A.transpose() * zbar - hbar)).cwiseAbs().maxCoeff() <= 1e-15);
}

// A sweep resets the adjoints only of the nodes the previous sweep could have written (up
// to its output); grad() of a node no sweep reached reads zero without marking it written.
BOOST_AUTO_TEST_CASE(sweeps_from_later_and_earlier_outputs_reset_what_the_last_one_wrote) {
  ad::Tape<double> tape;
  auto x = tape.variable(Mat{{0.3, -0.6}});
  auto early = sum(exp(x));
  tape.backward(early);
  const Mat d_early = x.value().array().exp().matrix();
  BOOST_TEST((x.grad() - d_early).cwiseAbs().maxCoeff() <= 1e-15);

  auto h = tanh(x);  // recorded after the sweep
  BOOST_TEST(h.grad().isZero());
  auto late = sum(h);
  tape.backward(late);
  BOOST_TEST(tape.rules_run() == 2u);  // sum and tanh: exp and the early sum are not visited
  const Mat d_late = (1 - h.value().array().square()).matrix();
  BOOST_TEST((x.grad() - d_late).cwiseAbs().maxCoeff() <= 1e-15);
  BOOST_TEST(h.grad().isOnes(0));

  tape.backward(early);  // back to the earlier output: h and late read zero again
  BOOST_TEST(tape.rules_run() == 2u);
  BOOST_TEST((x.grad() - d_early).cwiseAbs().maxCoeff() <= 1e-15);
  BOOST_TEST(h.grad().isZero(0));
  BOOST_TEST(late.grad().isZero(0));

  tape.clear();  // a sweep after clear() sees only adjoints written after it
  auto y = tape.variable(Mat{{2.0}});
  tape.backward(sum(y * y));
  BOOST_TEST(y.grad()(0, 0) == 4.0);
}

// Values and adjoints of a cache line or more start on one (for vectorised kernels);
// smaller ones are packed at 16-byte steps. A value and its adjoint do not overlap.
BOOST_AUTO_TEST_CASE(node_storage_is_aligned_by_size) {
  ad::Tape<float> tape;
  for (int n : {1, 3, 4, 5, 8, 15, 16, 17, 1, 64, 2, 100}) {
    auto v = tape.variable(ad::Matrix<float>::Ones(n, 1));
    for (const float* data : {v.value().data(), v.grad().data()}) {
      const auto address = reinterpret_cast<std::uintptr_t>(data);
      BOOST_TEST(address % 16 == 0u, n);
      if (n * sizeof(float) >= 64) BOOST_TEST(address % 64 == 0u, n);
    }
    BOOST_TEST(v.grad().isZero(0), n);   // grad() zeroed the adjoint ...
    BOOST_TEST(v.value().isOnes(0), n);  // ... and left the value alone
  }
}

// A leaf's value is copied element by element up to 4 contiguous elements, in one memory
// copy beyond, and through Eigen from a view with strided columns: each way copies exactly.
BOOST_AUTO_TEST_CASE(leaves_copy_contiguous_and_strided_values_of_every_size) {
  ad::Tape<double> tape;
  std::mt19937_64 rng(7);
  const Mat big = ad::random_normal<double>(7, 5, rng);
  for (int rows : {0, 1, 2, 3, 4, 5, 6}) {
    for (int cols : {0, 1, 2, 5}) {
      const Mat contiguous = big.topLeftCorner(rows, cols);
      auto v = tape.variable(contiguous);
      auto c = tape.constant(contiguous);
      BOOST_TEST((v.value().array() == contiguous.array()).all(), rows << "x" << cols);
      BOOST_TEST((c.value().array() == contiguous.array()).all(), rows << "x" << cols);
      // A block of a taller matrix: its columns are big.rows() apart.
      auto strided = tape.variable(big.block(1, 0, rows, cols));
      BOOST_TEST((strided.value().array() == big.block(1, 0, rows, cols).array()).all(),
                 rows << "x" << cols);
    }
  }
}

BOOST_AUTO_TEST_CASE(backward_with_a_seed_is_a_vector_jacobian_product) {
  ad::Tape<double> tape;
  const Mat A{{1, 2, 3}, {4, 5, 6}};
  auto a = tape.variable(A);
  auto y = 2.0 * a;  // J = 2 I, so the gradient is 2 × seed
  const Mat seed{{1, 0, -1}, {0.5, 0, 2}};
  tape.backward(y, seed);
  BOOST_TEST((a.grad() - 2 * seed).isZero(0));

  check_message<ad::ShapeError>([&] { tape.backward(y); }, {"backward", "2x3", "1x1"});
  BOOST_CHECK_THROW(tape.backward(y, Mat::Ones(3, 2)), ad::ShapeError);
}

// The sweep reports each node it goes past, newest first; a parameter's gradient is whole
// once the sweep has passed its first use, and not before (the second use is still to come).
BOOST_AUTO_TEST_CASE(backward_reports_each_node_it_passes_and_gradients_are_final_at_first_use) {
  std::mt19937_64 rng(3);
  ad::Parameter<double> a(ad::random_normal<double>(2, 2, rng));
  ad::Parameter<double> b(ad::random_normal<double>(2, 3, rng));
  ad::Parameter<double> unused(Mat::Ones(1, 1));
  ad::Parameter<double> unrecorded(Mat::Ones(1, 1));
  ad::Tape<double> tape;
  auto pa = tape.parameter(a);                                   // 0, first read by node 6
  auto pu = tape.parameter(unused);                              // 1, read by nothing
  auto x = tape.constant(ad::random_normal<double>(3, 2, rng));  // 2
  auto h = tanh(tape.parameter(b) * x);                          // b 3, matmul 4, tanh 5
  auto first = pa * h;                                           // 6
  auto second = pa * first;                                      // 7: a used again
  auto y = sum(hadamard(second, second));                        // 8, 9
  BOOST_TEST(tape.first_use(a) == 6u);
  BOOST_TEST(tape.first_use(b) == 4u);
  BOOST_TEST(tape.first_use(unused) == pu.index());
  check_message<ad::Error>([&] { (void)tape.first_use(unrecorded); },
                           {"first_use", "not recorded"});

  tape.backward(y);
  const Mat a_grad = a.grad();
  const Mat b_grad = b.grad();
  a.zero_grad();
  b.zero_grad();
  std::vector<std::uint32_t> passed;
  Mat a_at_first_use, a_before_first_use, b_at_first_use;
  tape.backward_reporting(y, [&](std::uint32_t i) {
    passed.push_back(i);
    if (i == 7) a_before_first_use = a.grad();
    if (i == 6) a_at_first_use = a.grad();
    if (i == 4) b_at_first_use = b.grad();
  });
  const std::vector<std::uint32_t> every_node = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
  BOOST_TEST(passed == every_node, boost::test_tools::per_element());
  BOOST_TEST((a_at_first_use == a_grad));
  BOOST_TEST((b_at_first_use == b_grad));
  BOOST_TEST((a.grad() == a_grad));
  BOOST_TEST((a_before_first_use - a_grad).norm() > 1e-3);
}

BOOST_AUTO_TEST_CASE(a_constant_has_no_gradient) {
  ad::Tape<double> tape;
  auto c = tape.constant(Mat::Ones(2, 2));
  auto x = tape.variable(Mat::Ones(2, 2));
  tape.backward(sum(hadamard(c, x)));
  BOOST_TEST((x.grad().array() == 1.0).all());
  BOOST_CHECK_THROW(c.grad(), ad::Error);
}

// After clear() the arena starts again in its first block; a value larger than that block
// goes to the next one that fits, and recording the same again reuses it.
BOOST_AUTO_TEST_CASE(a_large_value_after_clear_goes_to_a_block_that_fits) {
  ad::Tape<double> tape;
  tape.variable(Mat::Ones(2, 2));
  const std::size_t first = tape.arena_bytes();
  const Mat large = Mat::Constant(100, 200, 0.5);  // 160 kB, more than the first block
  BOOST_TEST(std::size_t(large.size()) * sizeof(double) > first);
  auto record = [&] {
    tape.clear();
    auto small = tape.variable(Mat::Constant(2, 2, 3.0));
    auto x = tape.variable(large);
    tape.backward(sum(hadamard(x, x)) + sum(small));
    BOOST_TEST((x.grad().array() == 1.0).all());  // d/dx Σ x² = 2x = 1
    BOOST_TEST((small.grad().array() == 1.0).all());
    BOOST_TEST((x.value() - large).isZero(0));
  };
  record();
  const std::size_t bytes = tape.arena_bytes();
  BOOST_TEST(bytes > first);
  const long before = ad_test::allocations.load();
  record();
  BOOST_TEST(ad_test::allocations.load() - before == 0);
  BOOST_TEST(tape.arena_bytes() == bytes);
}

BOOST_AUTO_TEST_CASE(clear_keeps_the_memory_and_recording_again_allocates_nothing) {
  ad::Tape<float> tape;
  std::mt19937_64 rng(3);
  ad::Parameter<float> W1(ad::random_normal<float>(64, 32, rng));
  ad::Parameter<float> b1(ad::random_normal<float>(64, 1, rng));
  ad::Parameter<float> W2(ad::random_normal<float>(10, 64, rng));
  const ad::Matrix<float> x = ad::random_normal<float>(32, 16, rng);
  auto step = [&] {
    tape.clear();
    auto h = relu(tape.parameter(W1) * tape.constant(x) + tape.parameter(b1));
    auto y = mean(hadamard(tape.parameter(W2) * h, tape.parameter(W2) * h));
    tape.backward(y);
  };
  step();
  const std::size_t bytes = tape.arena_bytes();
  const long before = ad_test::allocations.load();
  for (int i = 0; i < 5; ++i) step();
  BOOST_TEST(ad_test::allocations.load() - before == 0);
  BOOST_TEST(tape.arena_bytes() == bytes);
}

// A handle's recording is identified by a 64-bit number drawn once per recording: no number
// of clear() calls brings an old handle back to life.
BOOST_AUTO_TEST_CASE(invariant_7_a_handle_from_before_many_clears_stays_stale) {
  ad::Tape<double> tape;
  const auto old = tape.variable(Mat::Ones(1, 1));
  for (int k = 0; k < 100000; ++k) tape.clear();
  check_message<ad::Error>([&] { sum(old); }, {"recorded before tape.clear()"});
}

#ifdef AD_DEBUG_CHECKS
// Lifetimes are preconditions that debug builds check (docs/design.md): a Var outliving its
// tape, and a parameter destroyed while a tape still refers to it, are ad::Errors there.
BOOST_AUTO_TEST_CASE(invariant_7_debug_builds_catch_a_var_that_outlived_its_tape) {
  ad::Var<double> orphan;
  {
    ad::Tape<double> tape;
    orphan = tape.variable(Mat::Ones(2, 2));
  }
  check_message<ad::Error>([&] { sum(orphan); }, {"after its Tape was destroyed"});
  check_message<ad::Error>([&] { orphan.value(); }, {"after its Tape was destroyed"});
}

BOOST_AUTO_TEST_CASE(invariant_4_debug_builds_catch_a_parameter_destroyed_while_recorded) {
  ad::Tape<double> tape;
  auto kept = std::make_unique<ad::Parameter<double>>(Mat::Ones(2, 2));
  auto doomed = std::make_unique<ad::Parameter<double>>(Mat::Ones(2, 2));
  auto k = tape.parameter(*kept);
  auto y = sum(k * tape.parameter(*doomed));
  doomed.reset();
  check_message<ad::Error>([&] { tape.backward(y); }, {"backward", "Parameter", "destroyed"});
  check_message<ad::Error>([&] { sigmoid(k); }, {"sigmoid", "Parameter", "destroyed"});
  // A cleared tape records again, and the parameter that lives on is unharmed.
  tape.clear();
  auto z = sum(tape.parameter(*kept));
  tape.backward(z);
  BOOST_TEST(kept->grad().isApprox(Mat::Ones(2, 2)));
}
#endif
