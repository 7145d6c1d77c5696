#pragma once
// Training: losses against a batch's targets, the fit loop with progress and history,
// evaluate and predict.
//
//   nn::Adam<float> opt(model.parameters());
//   nn::History h = nn::fit(model, nn::CrossEntropy{}, opt, train,
//                           {.epochs = 10, .batch_size = 128, .validation = &test});
//   h.write_csv("history.csv");
//   nn::plot_history(h, "curves.png");
//
// The step (the model's output and loss, and its gradient) is recorded once for each batch
// size and evaluated again for every batch (ad::Recording, <ad/replay.hpp>): the batch and
// its targets are bound by reference, the parameters read by reference, and after the first
// step a step takes no memory.

#include <ad/losses.hpp>
#include <ad/nn/data.hpp>
#include <ad/nn/module.hpp>
#include <ad/nn/optim.hpp>
#include <ad/nn/replicas.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <type_traits>
#include <vector>

namespace ad::nn {

// A loss of the model's output (the logits or prediction, features x batch) against the
// batch's target (Batch::target: y, or the labels as a row of numbers); a 1x1 Var. The
// target is a constant on the output's tape.
template <class T>
using Loss = std::function<Var<T>(const Var<T>& output, const Var<T>& target)>;

// Softmax cross-entropy against the batch's labels (multi-class).
struct CrossEntropy {
  template <class T>
  Var<T> operator()(const Var<T>& logits, const Var<T>& labels) const {
    return sparse_softmax_cross_entropy(logits, labels);
  }
};

// Binary cross-entropy of logits against the batch's targets y in [0, 1].
struct BinaryCrossEntropy {
  template <class T>
  Var<T> operator()(const Var<T>& logits, const Var<T>& y) const {
    return binary_cross_entropy_with_logits(logits, y);
  }
};

// Mean squared error against the batch's targets y (regression).
struct MeanSquaredError {
  template <class T>
  Var<T> operator()(const Var<T>& prediction, const Var<T>& y) const {
    return mse(prediction, y);
  }
};

// What one epoch measured. Accuracies are NaN without labels, validation figures NaN
// without validation data. Train loss and accuracy are running means over the epoch's
// batches (the model changes during the epoch).
struct EpochStats {
  int epoch = 0;  // from 1
  double train_loss = 0;
  double train_accuracy = std::numeric_limits<double>::quiet_NaN();
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;
  // The rate of the epoch's first step: the rate of the whole epoch unless a schedule changes
  // it between steps (cosine_lr), then the one the epoch started from.
  double learning_rate = 0;
};

struct History {
  std::vector<EpochStats> epochs;

  // epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,learning_rate; an
  // nn::FileError if it cannot be written.
  void write_csv(const std::filesystem::path& path) const;
};

// Draws the loss and accuracy curves with gnuplot, as PNG or SVG by the file's
// extension. An nn::FileError if gnuplot is not installed (with what to install) or fails.
void plot_history(const History& history, const std::filesystem::path& image);

enum class Progress {
  automatic,  // a bar on a terminal, one line per epoch otherwise
  bar,
  lines,
  none,
};

// Called after each epoch; returning false stops training.
using Callback = std::function<bool(const EpochStats&)>;

template <class T>
struct FitOptions {
  int epochs = 10;
  Index batch_size = 32;
  std::uint64_t seed = 0;  // the shuffling order
  bool shuffle = true;
  const Dataset<T>* validation = nullptr;
  Schedule schedule = {};  // empty: keep the optimiser's rate
  Progress progress = Progress::automatic;
  std::vector<Callback> callbacks = {};
  std::FILE* out = stdout;
  // Data parallelism: this process's replica in a group (replicas.hpp; ad::nn_mpi's
  // nn::mpi::Replicas over MPI), or nullptr to train alone. batch_size is then the batch of
  // the whole group, split between the replicas; the epoch's figures are the group's; only
  // rank 0 prints. Parameters and optimiser state start as rank 0's.
  Replicas<T>* replicas = nullptr;
  // Every checkpoint_every steps (0: never) the model, the optimiser's state, the position
  // in training (epoch, batch, step, the epoch's running sums) and the history so far are
  // written to `checkpoint`, atomically (by rank 0 alone). With resume, a checkpoint found
  // there is read first (by every rank) and training goes on from it, to the same
  // parameters, bit for bit, as a run that was never stopped (with the same replicas).
  std::filesystem::path checkpoint = {};
  std::int64_t checkpoint_every = 0;
  bool resume = false;
  // Records the step (the model's output and the loss) once per batch size and evaluates it
  // again for every batch, as ad::record does (docs/replay.md). Set it to false for a model or
  // loss whose graph depends on the values or on draws made while recording (an `if` on a
  // value, a dropout mask drawn in a layer's forward): the step is then recorded anew for each
  // batch, as a loop around Tape::backward would.
  bool replay = true;
};

// The scalar type T is deduced from the model, optimiser and data: the loss (a function
// object such as CrossEntropy{} or a lambda) and the options are not used to deduce it, so
// nn::fit(model, nn::CrossEntropy{}, opt, train, {.epochs = 5}) needs no <float>.
template <class T>
History fit(Layer<T>& model, const std::type_identity_t<Loss<T>>& loss, Optimizer<T>& optimizer,
            const Dataset<T>& train, const std::type_identity_t<FitOptions<T>>& options = {});

struct Evaluation {
  double loss = 0;
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // NaN without labels
};

template <class T>
Evaluation evaluate(Layer<T>& model, const std::type_identity_t<Loss<T>>& loss,
                    const Dataset<T>& data, Index batch_size = 256, bool replay = true);

// The model's outputs for x (features x samples), computed in batches.
template <class T>
Matrix<T> predict(Layer<T>& model, const std::type_identity_t<Eigen::Ref<const Matrix<T>>>& x,
                  Index batch_size = 256);

// The predicted class of each column of outputs: the largest logit, or for a single row
// of binary logits, whether it is positive.
template <class T>
std::vector<int> classes_of(const Eigen::Ref<const Matrix<T>>& outputs);

}  // namespace ad::nn
