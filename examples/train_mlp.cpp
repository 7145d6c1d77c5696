// Trains a dense network on Fashion-MNIST (or any data set in the MNIST IDX layout) and
// reports its test accuracy; saves the model, the training history and its curves.
// The curves' validation figures come from a part of the training images held out before
// training (--validation, 1/12 by default: 5000 of 60000, drawn with --seed); the test set
// (t10k) is evaluated once, at the end.
//
//   train_mlp                              784-256-128-10 ReLU, Adam, cosine schedule
//   train_mlp --hidden 512 --epochs 5 --optimizer sgd --lr 0.1 --momentum 0.9
//   mpirun -np 2 train_mlp --distributed   data-parallel, one replica per process
//   train_mlp --checkpoint-every 100       then, after a crash: train_mlp ... --resume
//   train_mlp --help

#include <ad/nn/mpi.hpp>
#include <ad/nn/nn.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>

namespace nn = ad::nn;

namespace {

struct Options {
  std::filesystem::path data = "/usr/share/datasets/fashion-mnist";
  std::vector<Eigen::Index> hidden = {256, 128};
  std::string activation = "relu";
  std::string init = "he_normal";
  std::string optimizer = "adam";
  double lr = 2e-3;
  std::string schedule = "cosine";
  double weight_decay = 0;
  double momentum = 0.9;
  int epochs = 10;
  Eigen::Index batch_size = 128;
  std::uint64_t seed = 1;
  Eigen::Index limit = 0;
  double validation = 1.0 / 12;
  std::filesystem::path out = "out";
  std::string model = "fashion_mlp.bin";
  std::string history = "history.csv";
  std::string plot = "curves.png";
  std::string checkpoint = "checkpoint.bin";
  std::int64_t checkpoint_every = 0;
  bool resume = false;
  bool distributed = false;
  bool record_every_step = false;
  int threads = 1;
  // Set by main: this process's replica when distributed.
  nn::Replicas<float>* replicas = nullptr;
  bool prints = true;  // rank 0, or the only process
};

std::unique_ptr<nn::Optimizer<float>> make_optimizer(const Options& o,
                                                     nn::ParameterList<float> parameters) {
  if (o.optimizer == "sgd") {
    return std::make_unique<nn::SGD<float>>(
        std::move(parameters),
        nn::SGDOptions{.lr = o.lr, .momentum = o.momentum, .weight_decay = o.weight_decay});
  }
  const nn::AdamOptions adam{.lr = o.lr, .weight_decay = o.weight_decay};
  if (o.optimizer == "adamw")
    return std::make_unique<nn::AdamW<float>>(std::move(parameters), adam);
  return std::make_unique<nn::Adam<float>>(std::move(parameters), adam);
}

nn::Schedule make_schedule(const Options& o) {
  if (o.schedule == "cosine") return nn::cosine_lr(o.lr, o.epochs);
  if (o.schedule == "step") return nn::step_lr(o.lr, std::max(1, o.epochs / 3), 0.1);
  return nn::constant_lr(o.lr);
}

// The path as given if absolute or with a directory, else inside the output directory.
std::filesystem::path output_path(const Options& o, const std::string& name) {
  const std::filesystem::path p(name);
  return p.has_parent_path() || o.out.empty() ? p : o.out / p;
}

// The text of a number option, parsed whole; nullopt if it is not one number.
template <class N>
std::optional<N> parse(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  N value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// A check that an option is a finite number in a range, with a message that says so in
// short ("must be a finite number in (0, 10], got 1e300") instead of CLI11's, which prints
// the largest double in full.
CLI::Validator real_in(double low, double high, bool low_open, bool high_open) {
  const std::string range =
      fmt::format("{}{:g}, {:g}{}", low_open ? "(" : "[", low, high, high_open ? ")" : "]");
  return {[=](std::string& text) -> std::string {
            const auto v = parse<double>(text);
            const bool inside = v && std::isfinite(*v) && (low_open ? *v > low : *v >= low) &&
                                (high_open ? *v < high : *v <= high);
            return inside ? std::string()
                          : fmt::format("must be a finite number in {}, got '{}'", range, text);
          },
          range};
}

// The same for a whole number in [low, high].
CLI::Validator integer_in(long long low, long long high) {
  const std::string range = fmt::format("[{}, {}]", low, high);
  return {[=](std::string& text) -> std::string {
            const auto v = parse<long long>(text);
            return v && *v >= low && *v <= high
                       ? std::string()
                       : fmt::format("must be a whole number in {}, got '{}'", range, text);
          },
          range};
}

// The largest network this program builds: its parameters, their gradients and Adam's two
// moments stay well within a machine's memory (4 x 4 bytes each: 4 GiB at this limit).
constexpr double kMaxParameters = 1 << 28;

// The parameters of a dense network of these layer sizes, in double so that it cannot wrap.
double parameter_count(const std::vector<Eigen::Index>& sizes) {
  double count = 0;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    count += static_cast<double>(sizes[i] + 1) * static_cast<double>(sizes[i + 1]);
  }
  return count;
}

std::string join_sizes(const std::vector<Eigen::Index>& sizes) {
  std::string s;
  for (const Eigen::Index n : sizes) s += (s.empty() ? "" : "-") + std::to_string(n);
  return s;
}

// fmt::print on rank 0 (or alone) only.
template <class... Args>
void say(const Options& o, fmt::format_string<Args...> format, Args&&... args) {
  if (o.prints) fmt::print(format, std::forward<Args>(args)...);
}

int run(const Options& o) {
  // Everything that can be checked before training is checked first, so that a run cannot
  // fail after its epochs (losing the model) for a reason known at its start.
  const auto model_path = output_path(o, o.model);
  const auto history_path = output_path(o, o.history);
  const auto plot_path = output_path(o, o.plot);
  if (plot_path.extension() != ".png" && plot_path.extension() != ".svg") {
    throw nn::FileError(plot_path, "the curves' file (--plot) must end in .png or .svg");
  }
  const auto checkpoint_path = output_path(o, o.checkpoint);
  if (o.prints) {
    for (const auto& path : {model_path, history_path, plot_path}) nn::check_writable(path);
    if (o.checkpoint_every > 0) nn::check_writable(checkpoint_path);
  }

  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  const nn::MnistFiles train_files = nn::mnist_files(o.data, "train");
  const nn::MnistFiles test_files = nn::mnist_files(o.data, "t10k");
  nn::Dataset<float> train = nn::load_idx<float>(train_files.images, train_files.labels);
  const nn::Dataset<float> test = nn::load_idx<float>(test_files.images, test_files.labels);
  auto require_images = [](const nn::Dataset<float>& data, const nn::MnistFiles& files) {
    if (data.size() == 0) {
      throw nn::FileError(files.images, "holds no images: an empty data set cannot be used");
    }
  };
  require_images(train, train_files);
  require_images(test, test_files);
  if (test.features() != train.features()) {
    throw nn::FileError(
        test_files.images,
        fmt::format("holds images of {} pixels but the training images ({}) have "
                    "{}: the two sets must have images of one size",
                    test.features(), train_files.images.string(), train.features()));
  }
  if (o.limit > 0 && o.limit < train.size()) {
    std::vector<Eigen::Index> first(static_cast<std::size_t>(o.limit));
    std::iota(first.begin(), first.end(), Eigen::Index{0});
    train = train.subset(first);
  }
  // Held out before training: the model never trains on it, and nothing is chosen on the
  // test set. With --validation 0 the training set is used as loaded.
  nn::Dataset<float> validation;
  if (o.validation > 0) {
    auto [fitted, held_out] = train.split(o.validation, o.seed);
    if (fitted.size() == 0) {
      throw std::invalid_argument(
          fmt::format("--validation {:g} of {} training images leaves none to train on",
                      o.validation, train.size()));
    }
    train = std::move(fitted);
    validation = std::move(held_out);
  }
  say(o,
      "data: {} training, {} validation (held out from the training set) and {} test images of "
      "{} pixels from {} ({:.1f} s)\n",
      train.size(), validation.size(), test.size(), train.features(), o.data.string(),
      std::chrono::duration<double>(Clock::now() - start).count());

  std::vector<Eigen::Index> sizes = {train.features()};
  sizes.insert(sizes.end(), o.hidden.begin(), o.hidden.end());
  sizes.push_back(std::max(train.classes(), test.classes()));
  if (const double count = parameter_count(sizes); count > kMaxParameters) {
    throw std::invalid_argument(fmt::format(
        "the network {} would have {:.3g} parameters, more than this program's limit of {:.3g}: "
        "choose smaller --hidden layers (or images)",
        join_sizes(sizes), count, kMaxParameters));
  }
  std::mt19937_64 rng(o.seed);
  nn::Sequential<float> model =
      nn::mlp<float>(sizes, nn::parse_activation(o.activation), rng, nn::parse_init(o.init));
  say(o, "\n{}\n", model.summary());
  auto optimizer = make_optimizer(o, model.parameters());
  say(o, "{}, lr {:g} ({} schedule), weight decay {:g}, batch {}, {} epochs, seed {}\n\n",
      o.optimizer, o.lr, o.schedule, o.weight_decay, o.batch_size, o.epochs, o.seed);

  nn::FitOptions<float> fit{.epochs = o.epochs,
                            .batch_size = o.batch_size,
                            .seed = o.seed,
                            .validation = validation.size() > 0 ? &validation : nullptr,
                            .schedule = make_schedule(o),
                            .replicas = o.replicas,
                            .checkpoint = checkpoint_path,
                            .checkpoint_every = o.checkpoint_every,
                            .resume = o.resume,
                            .replay = !o.record_every_step};
  const nn::History history = nn::fit(model, nn::CrossEntropy{}, *optimizer, train, fit);

  double seconds = 0;
  for (const auto& e : history.epochs) seconds += e.seconds;
  if (!history.epochs.empty()) {
    say(o, "\nseconds per epoch: {:.2f} (mean of {})\n",
        seconds / static_cast<double>(history.epochs.size()), history.epochs.size());
  }
  if (!o.prints) return 0;  // rank 0 evaluates and writes for the group
  const nn::Evaluation result = nn::evaluate(model, nn::CrossEntropy{}, test);
  say(o, "test loss: {:.4f}\n", result.loss);
  say(o, "test accuracy: {:.4f}\n", result.accuracy);

  nn::save(model, model_path);
  history.write_csv(history_path);
  say(o, "\nsaved the model to {}\nsaved the history to {}\n", model_path.string(),
      history_path.string());
  try {
    nn::plot_history(history, plot_path);
    say(o, "saved the curves to {}\n", plot_path.string());
  } catch (const nn::FileError& e) {
    fmt::print(stderr, "warning: {}\n", e.what());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Trains a dense network on Fashion-MNIST (any data set in the MNIST IDX layout) "
      "and reports its test accuracy."};
  app.add_option("--data", o.data,
                 "directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]")
      ->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden layer sizes, e.g. 256,128")
      ->delimiter(',')
      ->check(integer_in(1, 1 << 16))
      ->capture_default_str();
  app.add_option("--activation", o.activation, "hidden activation")
      ->check(CLI::IsMember({"relu", "tanh", "sigmoid", "identity"}))
      ->capture_default_str();
  app.add_option("--init", o.init, "weight initialisation")
      ->check(CLI::IsMember({"he_normal", "glorot_uniform", "pytorch_uniform"}))
      ->capture_default_str();
  app.add_option("--optimizer", o.optimizer, "optimiser")
      ->check(CLI::IsMember({"adam", "adamw", "sgd"}))
      ->capture_default_str();
  app.add_option("--lr", o.lr, "learning rate (the peak, with a schedule)")
      ->check(real_in(0, 10, true, false))
      ->capture_default_str();
  app.add_option("--schedule", o.schedule,
                 "learning-rate schedule: cosine (to 0 at the last epoch), step (x0.1 every "
                 "third of the epochs) or constant")
      ->check(CLI::IsMember({"cosine", "step", "constant"}))
      ->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay,
                 "L2 penalty (adam, sgd) or decoupled decay (adamw)")
      ->check(real_in(0, 1, false, false))
      ->capture_default_str();
  app.add_option("--momentum", o.momentum, "momentum (sgd)")
      ->check(real_in(0, 1, false, true))
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "epochs")->check(integer_in(1, 1000))->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "samples per step")
      ->check(integer_in(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of initialisation and shuffling")->capture_default_str();
  app.add_option("--limit", o.limit, "train on the first N images only (0: all)")
      ->check(integer_in(0, std::numeric_limits<std::int32_t>::max()))
      ->capture_default_str();
  app.add_option("--validation", o.validation,
                 "fraction of the training images held out for the validation curves, drawn "
                 "with --seed (0: none)")
      ->check(real_in(0, 0.5, false, false))
      ->capture_default_str();
  app.add_option("--out", o.out, "output directory")->capture_default_str();
  app.add_option("--model", o.model, "model file (in --out unless it has a directory)")
      ->capture_default_str();
  app.add_option("--history", o.history, "history CSV (in --out unless it has a directory)")
      ->capture_default_str();
  app.add_option("--plot", o.plot, "curves, .png or .svg (in --out unless it has a directory)")
      ->capture_default_str();
  app.add_option("--checkpoint", o.checkpoint,
                 "checkpoint file (in --out unless it has a directory)")
      ->capture_default_str();
  app.add_option("--checkpoint-every", o.checkpoint_every,
                 "write a checkpoint every N steps (0: never)")
      ->check(integer_in(0, std::numeric_limits<std::int32_t>::max()))
      ->capture_default_str();
  app.add_flag("--resume", o.resume,
               "go on from the checkpoint if there is one (same options, same process count)");
  app.add_flag("--distributed", o.distributed,
               "data-parallel over MPI: run under mpirun, one replica per process; "
               "--batch-size is the whole group's batch; rank 0 prints and writes");
  app.add_flag("--record-every-step", o.record_every_step,
               "record the step anew for every batch instead of replaying one recording "
               "(FitOptions::replay = false; for comparing the two)");
  app.add_option("--threads", o.threads,
                 "data-parallel in this process: one replica per thread; --batch-size is the "
                 "whole group's batch; replica 0 prints and writes")
      ->check(integer_in(1, 64))
      ->excludes("--distributed")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!o.distributed) {
    try {
      if (o.threads == 1) return run(o);
      fmt::print("data-parallel: {} threads\n", o.threads);
      int status = 0;
      nn::train_in_threads<float>(o.threads, [&](nn::Replicas<float>& replicas) {
        Options mine = o;
        mine.replicas = &replicas;
        mine.prints = replicas.rank() == 0;
        const int rank_status = run(mine);
        if (mine.prints) status = rank_status;
      });
      return status;
    } catch (const std::exception& e) {
      fmt::print(stderr, "train_mlp: {}\n", e.what());
      return 1;
    }
  }
  nn::mpi::Environment mpi(argc, argv);
  try {
    nn::mpi::Replicas<float> replicas;
    o.replicas = &replicas;
    o.prints = mpi.rank() == 0;
    if (o.prints) fmt::print("distributed: {} processes (MPI ranks)\n", mpi.size());
    return run(o);
  } catch (const std::exception& e) {
    // The other ranks may be waiting for this one in a collective: end them all.
    mpi.abort("train_mlp", e);
  }
}
