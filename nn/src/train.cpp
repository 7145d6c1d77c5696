// The fit loop, evaluate and predict, and the progress display.

#include <ad/nn/train.hpp>

#include <ad/replay.hpp>

#include <fmt/format.h>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
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

// The model's output and loss for one batch size, recorded at the first batch of that size
// and evaluated again for the others: the batch's x and target are its inputs (bound by
// reference, no gradient), the model's parameters are read by reference.
template <class T>
class RecordedStep {
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

  // The batch's loss, and the parameters' gradients by one backward sweep.
  double gradient(const Batch<T>& batch) {
    return loss_.gradient({batch.x(), batch.target()})(0, 0);
  }
  double value(const Batch<T>& batch) { return loss_.value({batch.x(), batch.target()})(0, 0); }
  // The model's output at the latest evaluation.
  Eigen::Map<const Matrix<T>> output() const { return output_.value(); }

 private:
  Var<T> output_;  // set while loss_ records: declared first
  Recording<T> loss_;
};

// One recorded step for full batches and one for the smaller last batch of an epoch.
template <class T>
class RecordedSteps {
 public:
  RecordedSteps(Layer<T>& model, const Loss<T>& loss, Index batch_size)
      : model_(model), loss_(loss), batch_size_(batch_size) {}
  RecordedStep<T>& operator()(const Batch<T>& batch) {
    std::optional<RecordedStep<T>>& step = batch.size() == batch_size_ ? full_ : last_;
    if (!step || step_size(*step) != batch.size()) step.emplace(model_, loss_, batch);
    return *step;
  }

 private:
  static Index step_size(const RecordedStep<T>& step) { return step.output().cols(); }
  Layer<T>& model_;
  const Loss<T>& loss_;
  Index batch_size_;
  std::optional<RecordedStep<T>> full_;
  std::optional<RecordedStep<T>> last_;
};

}  // namespace

template <class T>
History fit(Layer<T>& model, const Loss<T>& loss, Optimizer<T>& optimizer, const Dataset<T>& train,
            const FitOptions<T>& options) {
  if (options.epochs < 0) {
    throw ad::Error(
        fmt::format("fit: the number of epochs ({}) must not be negative", options.epochs));
  }
  if (train.size() == 0) throw ad::Error("fit: the training set is empty");
  Batcher<T> batcher(train, options.batch_size, options.shuffle, options.seed);
  const Index batches = batcher.batches_per_epoch();
  if (options.schedule) check_schedule<T>(options.schedule, options.epochs, batches);
  Progress mode = options.progress;
  if (mode == Progress::automatic) {
    mode = options.out && isatty(fileno(options.out)) ? Progress::bar : Progress::lines;
  }
  if (!options.out) mode = Progress::none;

  RecordedSteps<T> steps(model, loss, options.batch_size);
  Batch<T> batch;
  History history;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto start = Clock::now();
    ProgressBar bar(options.out, epoch, options.epochs, batches);
    batcher.start_epoch();
    double loss_sum = 0;
    Index seen = 0;
    Index hits = 0;
    for (Index b = 0; batcher.next(batch); ++b) {
      if (options.schedule) {
        optimizer.set_learning_rate(
            options.schedule(epoch - 1 + static_cast<double>(b) / static_cast<double>(batches)));
      }
      RecordedStep<T>& step = steps(batch);
      optimizer.zero_grad();
      const double value = step.gradient(batch);
      if (!std::isfinite(value)) {
        throw ad::NumericError(fmt::format(
            "fit: the loss became {} in epoch {}, batch {}; the learning rate ({:g}) may be too "
            "high",
            value, epoch, b + 1, optimizer.learning_rate()));
      }
      optimizer.step();
      loss_sum += value * static_cast<double>(batch.size());
      seen += batch.size();
      if (!batch.labels().empty()) hits += correct(step.output(), batch.labels());
      if (mode == Progress::bar) {
        bar.update(b + 1, loss_sum / static_cast<double>(seen), seen, seconds_since(start));
      }
    }
    EpochStats stats;
    stats.epoch = epoch;
    stats.seconds = seconds_since(start);
    stats.train_loss = loss_sum / static_cast<double>(seen);
    if (!train.labels.empty()) {
      stats.train_accuracy = static_cast<double>(hits) / static_cast<double>(seen);
    }
    stats.learning_rate = optimizer.learning_rate();
    if (options.validation) {
      const Evaluation e =
          evaluate(model, loss, *options.validation, std::max<Index>(options.batch_size, 256));
      stats.val_loss = e.loss;
      stats.val_accuracy = e.accuracy;
    }
    history.epochs.push_back(stats);
    if (mode == Progress::bar) bar.clear();
    if (mode != Progress::none) print_epoch(options.out, stats, options.epochs);
    bool go_on = true;
    for (const Callback& callback : options.callbacks) go_on = callback(stats) && go_on;
    if (!go_on) break;
  }
  return history;
}

template <class T>
Evaluation evaluate(Layer<T>& model, const Loss<T>& loss, const Dataset<T>& data,
                    Index batch_size) {
  if (data.size() == 0) throw ad::Error("evaluate: the dataset is empty");
  Batcher<T> batcher(data, batch_size, false);
  batcher.start_epoch();
  RecordedSteps<T> steps(model, loss, batch_size);
  Batch<T> batch;
  double loss_sum = 0;
  Index hits = 0;
  while (batcher.next(batch)) {
    RecordedStep<T>& step = steps(batch);
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
Matrix<T> predict(Layer<T>& model, const Eigen::Ref<const Matrix<T>>& x, Index batch_size) {
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

template History fit(Layer<float>&, const Loss<float>&, Optimizer<float>&, const Dataset<float>&,
                     const FitOptions<float>&);
template History fit(Layer<double>&, const Loss<double>&, Optimizer<double>&,
                     const Dataset<double>&, const FitOptions<double>&);
template Evaluation evaluate(Layer<float>&, const Loss<float>&, const Dataset<float>&, Index);
template Evaluation evaluate(Layer<double>&, const Loss<double>&, const Dataset<double>&, Index);
template Matrix<float> predict(Layer<float>&, const Eigen::Ref<const Matrix<float>>&, Index);
template Matrix<double> predict(Layer<double>&, const Eigen::Ref<const Matrix<double>>&, Index);
template std::vector<int> classes_of(const Eigen::Ref<const Matrix<float>>&);
template std::vector<int> classes_of(const Eigen::Ref<const Matrix<double>>&);

}  // namespace ad::nn
