// Data-parallel training over MPI, run by ctest under mpirun with 2, 3, 4 and 8 processes:
// the replicas stay bit-identical (parameters and optimiser state) with each reduction,
// training matches one process with the same batch, an interrupted run resumes to the same
// parameters. Every rank runs every case in the same
// order (each makes collective calls); a failed check on any rank fails the run.

#define BOOST_TEST_MODULE mpi
#include <ad/nn/mpi.hpp>
#include <ad/nn/nn.hpp>

#include <fmt/format.h>
#include <mpi.h>
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>

namespace nn = ad::nn;
using Eigen::Index;

namespace {

struct MpiFixture {
  MpiFixture() {
    auto& suite = boost::unit_test::framework::master_test_suite();
    environment = std::make_unique<nn::mpi::Environment>(suite.argc, suite.argv);
  }
  ~MpiFixture() { environment.reset(); }
  static inline std::unique_ptr<nn::mpi::Environment> environment;
};

// Three classes of points in the plane around three centres; 145 samples in batches of 16
// leave a last batch of 1, so that some ranks get an empty shard.
nn::Dataset<double> blobs(Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.7);
  const double centres[3][2] = {{0, 1}, {1, -1}, {-1, -1}};
  nn::Dataset<double> d;
  d.x.resize(2, n);
  for (Index j = 0; j < n; ++j) {
    const int label = static_cast<int>(j % 3);
    d.labels.push_back(label);
    for (Index i = 0; i < 2; ++i) d.x(i, j) = centres[label][i] + noise(rng);
  }
  return d;
}

nn::Sequential<double> model_of(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<Index> sizes = {2, 16, 3};
  return nn::mlp<double>(sizes, nn::Activation::tanh, rng);
}

constexpr Index kSamples = 145;
constexpr Index kBatch = 16;

int rank() { return MpiFixture::environment->rank(); }

double relative(double a, double b) { return std::abs(a - b) / std::abs(b); }

// Whether every rank's optimiser state (its arrays and counters) has the same bits.
bool same_state_on_every_rank(nn::Optimizer<double>& optimizer) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a
  const auto mix = [&h](const void* data, std::size_t bytes) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  const nn::Optimizer<double>::State state = optimizer.state();
  for (const std::span<double> a : state.arrays) mix(a.data(), a.size_bytes());
  for (const std::int64_t* c : state.counters) mix(c, sizeof *c);
  std::uint64_t lowest = 0, highest = 0;
  MPI_Allreduce(&h, &lowest, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&h, &highest, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  return lowest == highest;
}

constexpr nn::mpi::Reduction kReductions[] = {nn::mpi::Reduction::overlapped,
                                              nn::mpi::Reduction::after_backward,
                                              nn::mpi::Reduction::shared_memory};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(MpiFixture);

// Each rank starts from a model of its own (seeded by its rank); fit gives every replica rank
// 0's, and after every step the parameters hash the same on every rank.
BOOST_AUTO_TEST_CASE(replicas_are_bit_identical_after_every_step) {
  const auto train = blobs(kSamples, 1);
  for (const auto reduction : kReductions) {
    auto model = model_of(10 + static_cast<std::uint64_t>(rank()));
    nn::Adam<double> opt(model.parameters(), {.lr = 0.02});
    nn::mpi::Replicas<double> replicas(
        {.reduction = reduction, .bucket_bytes = 64, .verify = true});
    if (replicas.size() > 1) {
      BOOST_CHECK_THROW(replicas.check_identical(model.parameters()), ad::Error);
    }
    nn::fit<double>(
        model, nn::CrossEntropy{}, opt, train,
        {.epochs = 3, .batch_size = kBatch, .seed = 5, .out = nullptr, .replicas = &replicas});
    BOOST_CHECK_NO_THROW(replicas.check_identical(model.parameters()));
    // A shared step leaves each rank's state current on its slice until fit gathers it.
    BOOST_TEST(same_state_on_every_rank(opt));
    BOOST_TEST(replicas.timing().steps == 3 * ((kSamples + kBatch - 1) / kBatch));
  }
}

// Every rank of these tests runs on one machine: the default shares the optimiser step there.
BOOST_AUTO_TEST_CASE(ranks_on_one_machine_share_the_step_by_default) {
  nn::mpi::Replicas<double> replicas;
  const auto expected =
      replicas.size() > 1 ? nn::mpi::Reduction::shared_memory : nn::mpi::Reduction::overlapped;
  BOOST_TEST((replicas.reduction() == expected));
  nn::mpi::Replicas<double> asked({.reduction = nn::mpi::Reduction::after_backward});
  BOOST_TEST((asked.reduction() == nn::mpi::Reduction::after_backward));
}

// A loop of its own that forgets Replicas::step: with the shared step the next backward is
// an error on every rank, not a step taken from each rank's own gradient.
BOOST_AUTO_TEST_CASE(backward_again_before_step_is_an_error) {
  auto model = model_of(1);
  const auto parameters = model.parameters();
  nn::mpi::Replicas<double> replicas({.reduction = nn::mpi::Reduction::shared_memory});
  nn::SGD<double> opt(parameters, {});
  BOOST_CHECK_THROW(replicas.step(opt), ad::Error);
  replicas.backward(nullptr, {}, 0.5, parameters);
  BOOST_CHECK_THROW(replicas.backward(nullptr, {}, 0.5, parameters), ad::Error);
}

// An optimiser over some of the parameters (the first layer frozen) takes the whole step on
// every rank from the group's whole gradient: the replicas stay identical and train as one
// process does; SGD with momentum, whose state is one array.
BOOST_AUTO_TEST_CASE(an_optimiser_over_some_parameters_trains_as_one_process) {
  const auto train = blobs(kSamples, 5);
  const nn::FitOptions<double> options{
      .epochs = 2, .batch_size = kBatch, .seed = 3, .out = nullptr};
  const auto some = [](nn::Sequential<double>& m) {
    const auto p = m.parameters();
    return nn::ParameterList<double>(p.begin() + 2, p.end());  // not the first layer's
  };
  auto alone = model_of(8);
  nn::SGD<double> alone_opt(some(alone), {.lr = 0.05, .momentum = 0.9});
  const nn::History expected =
      nn::fit<double>(alone, nn::CrossEntropy{}, alone_opt, train, options);

  auto model = model_of(8);
  const ad::Matrix<double> first = model.parameters()[0]->value();
  nn::SGD<double> opt(some(model), {.lr = 0.05, .momentum = 0.9});
  nn::mpi::Replicas<double> replicas;
  nn::FitOptions<double> group = options;
  group.replicas = &replicas;
  const nn::History got = nn::fit<double>(model, nn::CrossEntropy{}, opt, train, group);
  BOOST_CHECK_NO_THROW(replicas.check_identical(model.parameters()));
  BOOST_TEST(same_state_on_every_rank(opt));
  BOOST_TEST((model.parameters()[0]->value() == first));
  BOOST_TEST_REQUIRE(got.epochs.size() == expected.epochs.size());
  for (std::size_t e = 0; e < got.epochs.size(); ++e) {
    BOOST_TEST(relative(got.epochs[e].train_loss, expected.epochs[e].train_loss) <= 1e-5);
  }
}

// The group's training is one process's training with the same (global) batch, but for the
// order of floating-point sums: losses within 1e-5 relative (f64), as docs/distributed.md
// says. The one-process run is made on every rank, alone.
BOOST_AUTO_TEST_CASE(the_group_trains_as_one_process_with_the_same_batch) {
  const auto train = blobs(kSamples, 2);
  const auto validation = blobs(50, 3);
  for (const auto reduction : kReductions) {
    nn::FitOptions<double> options{
        .epochs = 3, .batch_size = kBatch, .seed = 7, .validation = &validation, .out = nullptr};
    auto alone = model_of(4);
    nn::Adam<double> alone_opt(alone.parameters(), {.lr = 0.02});
    const nn::History expected =
        nn::fit<double>(alone, nn::CrossEntropy{}, alone_opt, train, options);

    auto model = model_of(4);
    nn::Adam<double> opt(model.parameters(), {.lr = 0.02});
    nn::mpi::Replicas<double> replicas({.reduction = reduction});
    options.replicas = &replicas;
    const nn::History got = nn::fit<double>(model, nn::CrossEntropy{}, opt, train, options);
    BOOST_TEST_REQUIRE(got.epochs.size() == expected.epochs.size());
    for (std::size_t e = 0; e < got.epochs.size(); ++e) {
      BOOST_TEST(relative(got.epochs[e].train_loss, expected.epochs[e].train_loss) <= 1e-5);
      BOOST_TEST(relative(got.epochs[e].val_loss, expected.epochs[e].val_loss) <= 1e-5);
      // Accuracies count whole samples over the whole set on both sides.
      BOOST_TEST(got.epochs[e].train_accuracy * kSamples ==
                 std::round(got.epochs[e].train_accuracy * kSamples));
      BOOST_TEST(got.epochs[e].val_accuracy == expected.epochs[e].val_accuracy);
    }
    const auto p = model.parameters();
    const auto q = alone.parameters();
    for (std::size_t i = 0; i < p.size(); ++i) {
      BOOST_TEST((p[i]->value() - q[i]->value()).norm() <= 1e-9 * q[i]->value().norm());
    }
  }
}

// Training stopped part-way (an exception from the schedule at step 13, on every rank) and
// resumed from its last checkpoint ends with the parameters of a run never stopped, bit for
// bit.
BOOST_AUTO_TEST_CASE(an_interrupted_group_resumes_to_the_same_parameters) {
  const auto train = blobs(kSamples, 4);
  const std::filesystem::path checkpoint =
      fmt::format("test_mpi_resume_{}.ckpt", MpiFixture::environment->size());
  if (rank() == 0) std::filesystem::remove(checkpoint);
  MPI_Barrier(MPI_COMM_WORLD);
  nn::mpi::Replicas<double> replicas;
  nn::FitOptions<double> options{.epochs = 3,
                                 .batch_size = kBatch,
                                 .seed = 9,
                                 .schedule = nn::cosine_lr(0.02, 3),
                                 .out = nullptr,
                                 .replicas = &replicas};
  auto whole = model_of(6);
  nn::Adam<double> whole_opt(whole.parameters(), {.lr = 0.02});
  const nn::History expected =
      nn::fit<double>(whole, nn::CrossEntropy{}, whole_opt, train, options);

  struct Stop : std::runtime_error {
    Stop() : std::runtime_error("stop") {}
  };
  auto stopped = model_of(6);
  nn::Adam<double> stopped_opt(stopped.parameters(), {.lr = 0.02});
  options.checkpoint = checkpoint;
  options.checkpoint_every = 4;
  int calls = 0;
  const nn::Schedule cosine = nn::cosine_lr(0.02, 3);
  options.schedule = [&](double epoch) {
    // check_schedule calls it once per step before training: 30 calls; then one per step.
    if (++calls == 30 + 13) throw Stop();
    return cosine(epoch);
  };
  BOOST_CHECK_THROW(nn::fit<double>(stopped, nn::CrossEntropy{}, stopped_opt, train, options),
                    Stop);
  MPI_Barrier(MPI_COMM_WORLD);

  auto resumed = model_of(99);  // anything: the checkpoint sets it
  nn::Adam<double> resumed_opt(resumed.parameters(), {.lr = 0.5});
  options.schedule = cosine;
  options.resume = true;
  const nn::History got = nn::fit<double>(resumed, nn::CrossEntropy{}, resumed_opt, train, options);
  const auto p = resumed.parameters();
  const auto q = whole.parameters();
  for (std::size_t i = 0; i < p.size(); ++i) BOOST_TEST((p[i]->value() == q[i]->value()));
  BOOST_TEST_REQUIRE(got.epochs.size() == expected.epochs.size());
  for (std::size_t e = 0; e < got.epochs.size(); ++e) {
    BOOST_TEST(got.epochs[e].train_loss == expected.epochs[e].train_loss, "epoch " << e);
  }
  replicas.check_identical(resumed.parameters());
}
