// The fit loop, evaluate and predict, and the progress display.

#include <ad/nn/train.hpp>

#include <ad/replay.hpp>

#include "checkpoint.hpp"

#include <fmt/format.h>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>

namespace ad::nn {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The class predicted by column j of outputs: the largest logit, or for one row of binary
// logits, whether it is positive.
template <class M>
int predicted_class(const M& outputs, Index j) {
  Index best = 0;
  if (outputs.rows() == 1) {
    best = outputs(0, j) > 0 ? 1 : 0;
  } else {
    outputs.col(j).maxCoeff(&best);
  }
  return static_cast<int>(best);
}

// Samples in outputs (one column each) whose predicted class is the label.
template <class T>
Index correct(const Eigen::Map<const Matrix<T>>& outputs, std::span<const int> labels) {
  Index hits = 0;
  for (Index j = 0; j < outputs.cols(); ++j) {
    hits += predicted_class(outputs, j) == labels[static_cast<std::size_t>(j)];
  }
  return hits;
}

std::string format_duration(double seconds) {
  if (seconds < 10) return fmt::format("{:.1f}s", seconds);
  const auto s = static_cast<long>(std::lround(seconds));
  return s >= 60 ? fmt::format("{}m{:02}s", s / 60, s % 60) : fmt::format("{}s", s);
}

// A one-line bar redrawn in place on a terminal, at most ten times a second.
class ProgressBar {
 public:
  ProgressBar(std::FILE* out, int epoch, int epochs, Index batches)
      : out_(out), epoch_(epoch), epochs_(epochs), batches_(batches) {}

  void update(Index done, double loss, Index samples, double elapsed) {
    if (done < batches_ && elapsed - last_ < 0.1) return;
    last_ = elapsed;
    constexpr int width = 24;
    const double fraction = static_cast<double>(done) / static_cast<double>(batches_);
    const auto filled = static_cast<int>(fraction * width);
    const double rate = elapsed > 0 ? static_cast<double>(samples) / elapsed : 0;
    const double left = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0;
    fmt::print(out_,
               "\r\x1b[Kepoch {}/{} [{:=<{}}{:<{}}] {}/{}  loss {:.4f}  {:.0f} samples/s  {} left",
               epoch_, epochs_, "", filled, filled < width ? ">" : "", width - filled, done,
               batches_, loss, rate, format_duration(left));
    std::fflush(out_);
  }

  void clear() {
    fmt::print(out_, "\r\x1b[K");
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  int epoch_;
  int epochs_;
  Index batches_;
  double last_ = -1;
};

void print_epoch(std::FILE* out, const EpochStats& s, int epochs) {
  std::string line = fmt::format("epoch {:>{}}/{}  loss {:.4f}", s.epoch,
                                 fmt::formatted_size("{}", epochs), epochs, s.train_loss);
  if (!std::isnan(s.train_accuracy)) line += fmt::format("  acc {:.4f}", s.train_accuracy);
  if (!std::isnan(s.val_loss)) line += fmt::format("  val_loss {:.4f}", s.val_loss);
  if (!std::isnan(s.val_accuracy)) line += fmt::format("  val_acc {:.4f}", s.val_accuracy);
  line += fmt::format("  lr {:.3g}  {:.2f} s", s.learning_rate, s.seconds);
  fmt::print(out, "{}\n", line);
  std::fflush(out);
}

// Every rate the schedule will give, checked before the first step, so that a NaN or negative
// rate stops training before it starts rather than part-way or never.
template <class T>
void check_schedule(const Schedule& schedule, int epochs, Index batches) {
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    for (Index b = 0; b < batches; ++b) {
      const double at = epoch - 1 + static_cast<double>(b) / static_cast<double>(batches);
      const double lr = schedule(at);
      if (!(std::isfinite(lr) && lr >= 0 && lr <= std::numeric_limits<T>::max())) {
        throw ad::Error(
            fmt::format("fit: the schedule gives a learning rate of {} at epoch {:g} "
                        "(epoch {}, batch {}); a rate must be a finite number >= 0 "
                        "(and finite as a {})",
                        lr, at, epoch, b + 1, sizeof(T) == 4 ? "float" : "double"));
      }
    }
  }
}

// One training or evaluation step: the model's output and loss for a batch, and the
// parameters' gradients. Steps<T> hands out the step for each batch, ready to evaluate it.
template <class T>
class Step {
 public:
  virtual ~Step() = default;
  // The batch's loss, and the parameters' gradients by one backward sweep (which calls
  // passed, if given, as Tape::backward_reporting does).
  virtual double gradient(const Batch<T>& batch,
                          const std::function<void(std::uint32_t)>& passed = {}) = 0;
  virtual double value(const Batch<T>& batch) = 0;
  // The model's output at the latest evaluation.
  virtual Eigen::Map<const Matrix<T>> output() const = 0;
  // The tape the step's graph is on (the sweep of gradient() runs on it).
  virtual Tape<T>& tape() = 0;
};

// The step recorded at the first batch of its size and evaluated again for the others: the
// batch's x and target are its inputs (bound by reference, no gradient), the model's
// parameters are read by reference.
template <class T>
class RecordedStep final : public Step<T> {
 public:
  RecordedStep(Layer<T>& model, const Loss<T>& loss, const Batch<T>& batch)
      : loss_(ad::record<T>(
            [this, &model, &loss](std::span<const Var<T>> in) {
              output_ = model(in[0]);
              return loss(output_, in[1]);
            },
            {batch.x(), batch.target()}, {.wrt = std::vector<std::size_t>{}})) {}
  RecordedStep(const RecordedStep&) = delete;
  RecordedStep& operator=(const RecordedStep&) = delete;

  double gradient(const Batch<T>& batch,
                  const std::function<void(std::uint32_t)>& passed = {}) override {
    return loss_.gradient({batch.x(), batch.target()}, passed)(0, 0);
  }
  double value(const Batch<T>& batch) override {
    return loss_.value({batch.x(), batch.target()})(0, 0);
  }
  Eigen::Map<const Matrix<T>> output() const override { return output_.value(); }
  Tape<T>& tape() override { return loss_.tape(); }

 private:
  Var<T> output_;  // set while loss_ records: declared first
  Recording<T> loss_;
};

// The step recorded anew for every batch (FitOptions::replay = false): record(batch) records
// it, gradient() and value() read that recording.
template <class T>
class FreshStep final : public Step<T> {
 public:
  FreshStep(Layer<T>& model, const Loss<T>& loss) : model_(model), loss_(loss) {}

  void record(const Batch<T>& batch) {
    tape_.clear();
    output_ = model_(tape_.constant(batch.x()));
    value_ = loss_(output_, tape_.constant(batch.target()));
  }
  double gradient(const Batch<T>&, const std::function<void(std::uint32_t)>& passed = {}) override {
    sweep_of(tape_, value_)(passed);
    return value_.value()(0, 0);
  }
  double value(const Batch<T>&) override { return value_.value()(0, 0); }
  Eigen::Map<const Matrix<T>> output() const override { return output_.value(); }
  Tape<T>& tape() override { return tape_; }

 private:
  Layer<T>& model_;
  const Loss<T>& loss_;
  Tape<T> tape_;
  Var<T> output_;
  Var<T> value_;
};

// The step for each batch: with replay, one recording for full batches and one for the
// smaller last batch of an epoch; without, the batch recorded on a tape of its own.
template <class T>
class Steps {
 public:
  Steps(Layer<T>& model, const Loss<T>& loss, Index batch_size, bool replay)
      : model_(model), loss_(loss), batch_size_(batch_size), replay_(replay), fresh_(model, loss) {}
  Step<T>& operator()(const Batch<T>& batch) {
    if (!replay_) {
      fresh_.record(batch);
      return fresh_;
    }
    std::optional<RecordedStep<T>>& step = batch.size() == batch_size_ ? full_ : last_;
    if (!step || step->output().cols() != batch.size()) step.emplace(model_, loss_, batch);
    return *step;
  }

 private:
  Layer<T>& model_;
  const Loss<T>& loss_;
  Index batch_size_;
  bool replay_;
  FreshStep<T> fresh_;
  std::optional<RecordedStep<T>> full_;
  std::optional<RecordedStep<T>> last_;
};

// The samples of data's shard `rank` of `ranks` (shard_of), contiguous.
template <class T>
Dataset<T> shard_of(const Dataset<T>& data, int rank, int ranks) {
  const Shard shard = nn::shard_of(data.size(), rank, ranks);
  std::vector<Index> indices(static_cast<std::size_t>(shard.size));
  std::iota(indices.begin(), indices.end(), shard.first);
  return data.subset(indices);
}

// evaluate over the group: each replica its shard of the data, the sums added across it.
template <class T>
Evaluation evaluate_group(Layer<T>& model, const Loss<T>& loss, const Dataset<T>& shard,
                          Index batch_size, bool replay, Replicas<T>& replicas) {
  double sums[3] = {};  // loss · samples, correct, samples
  Evaluation e;
  if (shard.size() > 0) {
    e = evaluate(model, loss, shard, batch_size, replay);
    const auto n = static_cast<double>(shard.size());
    sums[0] = e.loss * n;
    sums[1] = std::isnan(e.accuracy) ? 0 : std::round(e.accuracy * n);
    sums[2] = n;
  }
  replicas.sum(sums);
  e.loss = sums[0] / sums[2];
  if (!shard.labels.empty()) e.accuracy = sums[1] / sums[2];
  return e;
}

}  // namespace

template <class T>
History fit(Layer<T>& model, const std::type_identity_t<Loss<T>>& loss, Optimizer<T>& optimizer,
            const Dataset<T>& train, const std::type_identity_t<FitOptions<T>>& options) {
  if (options.epochs < 0) {
    throw ad::Error(
        fmt::format("fit: the number of epochs ({}) must not be negative", options.epochs));
  }
  if (train.size() == 0) throw ad::Error("fit: the training set is empty");
  Replicas<T>* const replicas = options.replicas;
  const int rank = replicas ? replicas->rank() : 0;
  const int ranks = replicas ? replicas->size() : 1;
  Batcher<T> batcher(train, options.batch_size, options.shuffle, options.seed, rank, ranks);
  const Index batches = batcher.batches_per_epoch();
  if (options.schedule) check_schedule<T>(options.schedule, options.epochs, batches);
  Progress mode = options.progress;
  if (mode == Progress::automatic) {
    mode = options.out && isatty(fileno(options.out)) ? Progress::bar : Progress::lines;
  }
  if (!options.out || rank != 0) mode = Progress::none;

  const ParameterList<T> parameters = model.parameters();
  detail::FitProgress at =
      detail::start_or_resume(options, parameters, optimizer, train.size(), rank, ranks);
  if (replicas) replicas->broadcast(parameters, optimizer.state());
  // With replicas, each evaluates its share of the validation set.
  std::optional<Dataset<T>> validation_shard;
  if (replicas && options.validation) {
    validation_shard = shard_of(*options.validation, rank, ranks);
  }
  for (int epoch = 1; epoch < at.epoch; ++epoch) batcher.start_epoch();  // the orders drawn

  // A replica's full batch is its shard of a full batch.
  Steps<T> steps(model, loss, shard_of(options.batch_size, rank, ranks).size, options.replay);
  Batch<T> batch;
  History& history = at.history;
  for (int epoch = at.epoch; epoch <= options.epochs; ++epoch) {
    const auto start = Clock::now();
    ProgressBar bar(options.out, epoch, options.epochs, batches);
    batcher.start_epoch();
    batcher.skip(at.batch);
    const Index first = std::min(at.batch * options.batch_size, train.size());
    double* const sums = at.sums.data() + 3 * rank;
    double& loss_sum = sums[0];  // this replica's, over its shards
    double& seen = sums[1];
    double& hits = sums[2];
    double epoch_rate = optimizer.learning_rate();  // the history's: the epoch's first step's
    for (Index b = at.batch; batcher.next(batch); ++b) {
      if (options.schedule) {
        optimizer.set_learning_rate(
            options.schedule(epoch - 1 + static_cast<double>(b) / static_cast<double>(batches)));
        if (b == 0) epoch_rate = optimizer.learning_rate();
      }
      optimizer.zero_grad();
      if (batch.size() > 0) {
        Step<T>& step = steps(batch);
        double value = 0;
        if (replicas) {
          const Index whole = std::min(options.batch_size, train.size() - b * options.batch_size);
          replicas->backward(
              &step.tape(), [&](const auto& passed) { value = step.gradient(batch, passed); },
              static_cast<T>(batch.size()) / static_cast<T>(whole), parameters);
        } else {
          value = step.gradient(batch);
        }
        if (!std::isfinite(value)) {
          throw ad::NumericError(fmt::format(
              "fit: the loss became {} in epoch {}, batch {}; the learning rate ({:g}) may be "
              "too high",
              value, epoch, b + 1, optimizer.learning_rate()));
        }
        loss_sum += value * static_cast<double>(batch.size());
        seen += static_cast<double>(batch.size());
        if (!batch.labels().empty()) {
          hits += static_cast<double>(correct(step.output(), batch.labels()));
        }
      } else {
        replicas->backward(nullptr, {}, T(0), parameters);  // an empty shard of this batch
      }
      if (replicas) {
        replicas->step(optimizer);
      } else {
        optimizer.step();
      }
      at.batch = b + 1;
      ++at.step;
      if (options.checkpoint_every > 0 && at.step % options.checkpoint_every == 0) {
        if (replicas) {
          replicas->sum(at.sums);
          replicas->gather_state(optimizer);
        }
        if (rank == 0) {
          detail::write_checkpoint(options.checkpoint, parameters, optimizer, at, options,
                                   train.size());
        }
        at.keep_own_sums(rank);
      }
      if (mode == Progress::bar) {
        // This replica's running loss; the samples are the group's.
        const Index samples = std::min((b + 1) * options.batch_size, train.size()) - first;
        bar.update(b + 1, loss_sum / seen, samples, seconds_since(start));
      }
    }
    double epoch_sums[3] = {loss_sum, seen, hits};
    if (replicas) replicas->sum(epoch_sums);
    EpochStats stats;
    stats.epoch = epoch;
    stats.seconds = seconds_since(start);
    stats.train_loss = epoch_sums[0] / epoch_sums[1];
    if (!train.labels.empty()) stats.train_accuracy = epoch_sums[2] / epoch_sums[1];
    stats.learning_rate = epoch_rate;
    if (options.validation) {
      const Index eval_batch = std::max<Index>(options.batch_size, 256);
      const Evaluation e =
          replicas ? evaluate_group(model, loss, *validation_shard, eval_batch, options.replay,
                                    *replicas)
                   : evaluate(model, loss, *options.validation, eval_batch, options.replay);
      stats.val_loss = e.loss;
      stats.val_accuracy = e.accuracy;
    }
    history.epochs.push_back(stats);
    at.epoch = epoch + 1;
    at.batch = 0;
    std::fill(at.sums.begin(), at.sums.end(), 0.0);
    if (mode == Progress::bar) bar.clear();
    if (mode != Progress::none) print_epoch(options.out, stats, options.epochs);
    bool go_on = true;
    for (const Callback& callback : options.callbacks) go_on = callback(stats) && go_on;
    if (!go_on) break;
  }
  if (replicas) replicas->gather_state(optimizer);
  return history;
}

template <class T>
Evaluation evaluate(Layer<T>& model, const std::type_identity_t<Loss<T>>& loss,
                    const Dataset<T>& data, Index batch_size, bool replay) {
  if (data.size() == 0) throw ad::Error("evaluate: the dataset is empty");
  Batcher<T> batcher(data, batch_size, false);
  batcher.start_epoch();
  Steps<T> steps(model, loss, batch_size, replay);
  Batch<T> batch;
  double loss_sum = 0;
  Index hits = 0;
  while (batcher.next(batch)) {
    Step<T>& step = steps(batch);
    loss_sum += step.value(batch) * static_cast<double>(batch.size());
    if (!batch.labels().empty()) hits += correct(step.output(), batch.labels());
  }
  Evaluation e;
  e.loss = loss_sum / static_cast<double>(data.size());
  if (!data.labels.empty())
    e.accuracy = static_cast<double>(hits) / static_cast<double>(data.size());
  return e;
}

template <class T>
Matrix<T> predict(Layer<T>& model, const std::type_identity_t<Eigen::Ref<const Matrix<T>>>& x,
                  Index batch_size) {
  if (batch_size <= 0) {
    throw ad::Error(fmt::format("predict: the batch size must be at least 1, got {}", batch_size));
  }
  Tape<T> tape;
  Matrix<T> outputs;
  for (Index start = 0; start < x.cols(); start += batch_size) {
    const Index n = std::min(batch_size, x.cols() - start);
    tape.clear();
    const Var<T> y = model(tape.constant(x.middleCols(start, n)));
    if (start == 0) outputs.resize(y.rows(), x.cols());
    outputs.middleCols(start, n) = y.value();
  }
  return outputs;
}

template <class T>
std::vector<int> classes_of(const Eigen::Ref<const Matrix<T>>& outputs) {
  std::vector<int> classes(static_cast<std::size_t>(outputs.cols()));
  for (Index j = 0; j < outputs.cols(); ++j) {
    classes[static_cast<std::size_t>(j)] = predicted_class(outputs, j);
  }
  return classes;
}

template History fit<float>(Layer<float>&, const Loss<float>&, Optimizer<float>&,
                            const Dataset<float>&, const FitOptions<float>&);
template History fit<double>(Layer<double>&, const Loss<double>&, Optimizer<double>&,
                             const Dataset<double>&, const FitOptions<double>&);
template Evaluation evaluate<float>(Layer<float>&, const Loss<float>&, const Dataset<float>&, Index,
                                    bool);
template Evaluation evaluate<double>(Layer<double>&, const Loss<double>&, const Dataset<double>&,
                                     Index, bool);
template Matrix<float> predict<float>(Layer<float>&, const Eigen::Ref<const Matrix<float>>&, Index);
template Matrix<double> predict<double>(Layer<double>&, const Eigen::Ref<const Matrix<double>>&,
                                        Index);
template std::vector<int> classes_of(const Eigen::Ref<const Matrix<float>>&);
template std::vector<int> classes_of(const Eigen::Ref<const Matrix<double>>&);

}  // namespace ad::nn
