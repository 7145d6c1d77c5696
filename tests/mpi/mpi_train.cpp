// A small data-parallel training run for the fault and kill tests (tests/mpi/*.sh): three
// classes of points, a 2-16-3 network, Adam, under mpirun. Rank 0 saves the final model.
//
//   mpi_train --model FILE [--epochs N] [--checkpoint FILE --every N] [--resume]
//             [--fail nan|throw|kill --rank R --step S]
//
// --fail nan:   rank R's copy of the data holds NaN, so its first loss is NaN (fit throws);
// --fail throw: rank R throws at step S; --fail kill: rank R kills itself (SIGKILL) at step
// S, as an outside kill would.

#include <ad/nn/mpi.hpp>
#include <ad/nn/nn.hpp>

#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace nn = ad::nn;
using Eigen::Index;

int main(int argc, char** argv) {
  nn::mpi::Environment mpi(argc, argv);
  try {
    std::string model_file, checkpoint, fail;
    int epochs = 4, fail_rank = 0;
    long every = 0, fail_step = 0;
    bool resume = false;
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      auto value = [&] {
        if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", a));
        return std::string(argv[++i]);
      };
      if (a == "--model")
        model_file = value();
      else if (a == "--epochs")
        epochs = std::stoi(value());
      else if (a == "--checkpoint")
        checkpoint = value();
      else if (a == "--every")
        every = std::stol(value());
      else if (a == "--resume")
        resume = true;
      else if (a == "--fail")
        fail = value();
      else if (a == "--rank")
        fail_rank = std::stoi(value());
      else if (a == "--step")
        fail_step = std::stol(value());
      else
        throw std::invalid_argument(fmt::format("unknown option {}", a));
    }
    std::mt19937_64 rng(1);
    std::normal_distribution<float> noise(0, 0.7F);
    const float centres[3][2] = {{0, 1}, {1, -1}, {-1, -1}};
    nn::Dataset<float> train;
    const Index n = 1000;
    train.x.resize(2, n);
    for (Index j = 0; j < n; ++j) {
      const int label = static_cast<int>(j % 3);
      train.labels.push_back(label);
      for (Index i = 0; i < 2; ++i) train.x(i, j) = centres[label][i] + noise(rng);
    }
    const bool failing = !fail.empty() && mpi.rank() == fail_rank;
    if (failing && fail == "nan")
      train.x.row(0).setConstant(std::numeric_limits<float>::quiet_NaN());

    const std::vector<Index> sizes = {2, 16, 3};
    nn::Sequential<float> model = nn::mlp<float>(sizes, nn::Activation::tanh, rng);
    nn::Adam<float> opt(model.parameters(), {.lr = 0.01});
    nn::mpi::Replicas<float> replicas;
    // The schedule is called once per step (after fit has checked every step's rate: one call
    // each), so it counts the steps.
    const long checks = epochs * ((train.size() + 31) / 32);
    long calls = 0;
    const nn::Schedule cosine = nn::cosine_lr(0.01, epochs);
    const nn::Schedule schedule = [&](double epoch) {
      if (failing && ++calls - checks == fail_step) {
        if (fail == "kill") std::raise(SIGKILL);
        if (fail == "throw") {
          throw std::runtime_error(fmt::format("injected failure at step {}", fail_step));
        }
      }
      return cosine(epoch);
    };
    nn::fit<float>(model, nn::CrossEntropy{}, opt, train,
                   {.epochs = epochs,
                    .batch_size = 32,
                    .seed = 3,
                    .schedule = schedule,
                    .out = nullptr,
                    .replicas = &replicas,
                    .checkpoint = checkpoint,
                    .checkpoint_every = every,
                    .resume = resume});
    if (mpi.rank() == 0 && !model_file.empty()) nn::save(model, model_file);
    return 0;
  } catch (const std::exception& e) {
    mpi.abort("mpi_train", e);
  }
}
