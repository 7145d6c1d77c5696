// The data-parallel MLP step under mpirun: a 784-256-128-10 ReLU network, softmax
// cross-entropy, Adam, float, a global batch of 128 split across the ranks. Runs the three
// reductions of nn::mpi::Replicas alternately in one process (rounds of steps each), then
// times MPI_Allreduce alone over a range of sizes (the α-β calibration of
// docs/distributed.md). Rank 0 prints.
//
//   mpirun -np 2 distributed_step [--rounds N] [--steps N]

#include <ad/nn/mpi.hpp>
#include <ad/nn/nn.hpp>

#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace nn = ad::nn;
using Eigen::Index;

namespace {

constexpr Index kBatch = 128;

struct Result {
  double step_ms = 0;
  double sweep_ms = 0;
  double exposed_ms = 0;
};

// `steps` steps with the given reduction; times per step.
Result run(nn::mpi::Reduction reduction, int steps, nn::Sequential<float>& model,
           nn::Adam<float>& opt, const nn::Dataset<float>& data, int rank, int size) {
  nn::mpi::Replicas<float> replicas({.reduction = reduction});
  const nn::Shard shard = nn::shard_of(kBatch, rank, size);
  const auto parameters = model.parameters();
  ad::Tape<float> tape;
  const float weight = static_cast<float>(shard.size) / static_cast<float>(kBatch);
  MPI_Barrier(MPI_COMM_WORLD);
  const double start = MPI_Wtime();
  for (int s = 0; s < steps; ++s) {
    tape.clear();
    opt.zero_grad();
    const auto x = tape.constant(data.x.middleCols(shard.first, shard.size));
    const auto l = ad::softmax_cross_entropy(
        model(x),
        std::span<const int>(data.labels)
            .subspan(static_cast<std::size_t>(shard.first), static_cast<std::size_t>(shard.size)));
    replicas.backward(&tape, nn::sweep_of(tape, l), weight, parameters);
    replicas.step(opt);
  }
  replicas.gather_state(opt);
  const double seconds = MPI_Wtime() - start;
  const nn::mpi::ReductionTiming& t = replicas.timing();
  return {1e3 * seconds / steps, 1e3 * t.sweep_seconds / steps, 1e3 * t.exposed_seconds / steps};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  nn::mpi::Environment mpi(argc, argv);
  int rounds = 7;
  int steps = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--rounds") rounds = std::stoi(argv[i + 1]);
    if (a == "--steps") steps = std::stoi(argv[i + 1]);
  }
  const int rank = mpi.rank();
  const int size = mpi.size();
  std::mt19937_64 rng(1);
  nn::Dataset<float> data;
  data.x = ad::Matrix<float>::Random(784, kBatch).cwiseAbs();
  for (Index j = 0; j < kBatch; ++j) data.labels.push_back(static_cast<int>(j % 10));
  const std::vector<Index> sizes = {784, 256, 128, 10};
  auto model = nn::mlp<float>(sizes, nn::Activation::relu, rng, nn::Init::he_normal);
  nn::Adam<float> opt(model.parameters(), {.lr = 1e-4});
  run(nn::mpi::Reduction::after_backward, steps / 4, model, opt, data, rank, size);  // warm-up
  constexpr int kinds = 3;
  std::vector<double> step[kinds], sweep[kinds], exposed[kinds];
  const nn::mpi::Reduction reductions[kinds] = {nn::mpi::Reduction::after_backward,
                                                nn::mpi::Reduction::overlapped,
                                                nn::mpi::Reduction::shared_memory};
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < kinds; ++k) {
      const Result got = run(reductions[k], steps, model, opt, data, rank, size);
      step[k].push_back(got.step_ms);
      sweep[k].push_back(got.sweep_ms);
      exposed[k].push_back(got.exposed_ms);
    }
  }
  if (rank == 0) {
    const char* names[kinds] = {"after_backward", "overlapped", "shared_memory"};
    for (int k = 0; k < kinds; ++k) {
      fmt::print(
          "distributed_step ranks {} {}: step {:.4f} ms, sweep {:.4f} ms, reduction exposed "
          "{:.4f} ms (medians of {} rounds of {} steps, global batch {})\n",
          size, names[k], median(step[k]), median(sweep[k]), median(exposed[k]), rounds, steps,
          kBatch);
    }
    if (size > 1) {
      const double whole = median(exposed[0]);
      fmt::print(
          "distributed_step ranks {} all-reduce after backward {:.4f} ms per step, "
          "exposed when overlapped {:.4f} ms: {:.1f} % hidden\n",
          size, whole, median(exposed[1]), 100 * (1 - median(exposed[1]) / whole));
    }
  }
  // MPI_Allreduce alone (float sums), for the α-β model.
  if (size > 1) {
    for (std::size_t n = 1; n <= (std::size_t{1} << 24); n *= 4) {
      std::vector<float> buffer(n, 1.0F);
      const int repeats = n <= 4096 ? 2000 : n <= (1 << 20) ? 50 : 5;
      std::vector<double> times;
      for (int round = 0; round < 5; ++round) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double start = MPI_Wtime();
        for (int i = 0; i < repeats; ++i) {
          MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM,
                        MPI_COMM_WORLD);
        }
        times.push_back((MPI_Wtime() - start) / repeats);
      }
      if (rank == 0) {
        fmt::print("allreduce ranks {} bytes {} seconds {:.4e}\n", size, 4 * n, median(times));
      }
    }
  }
  return 0;
}
