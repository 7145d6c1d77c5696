// Trains a dense network on Fashion-MNIST (or any data set in the MNIST IDX layout) and
// reports its test accuracy; saves the model, the training history and its curves.
//
//   train_mlp                              784-256-128-10 ReLU, Adam, cosine schedule
//   train_mlp --hidden 512 --epochs 5 --optimizer sgd --lr 0.1 --momentum 0.9
//   train_mlp --help

#include <ad/nn/nn.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <numeric>
#include <random>

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
  std::filesystem::path out = "out";
  std::string model = "fashion_mlp.bin";
  std::string history = "history.csv";
  std::string plot = "curves.png";
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
  return p.has_parent_path() ? p : o.out / p;
}

int run(const Options& o) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  nn::Dataset<float> train = nn::load_mnist<float>(o.data, "train");
  const nn::Dataset<float> test = nn::load_mnist<float>(o.data, "t10k");
  if (o.limit > 0 && o.limit < train.size()) {
    std::vector<Eigen::Index> first(static_cast<std::size_t>(o.limit));
    std::iota(first.begin(), first.end(), Eigen::Index{0});
    train = train.subset(first);
  }
  fmt::print("data: {} training and {} test images of {} pixels from {} ({:.1f} s)\n", train.size(),
             test.size(), train.features(), o.data.string(),
             std::chrono::duration<double>(Clock::now() - start).count());

  std::vector<Eigen::Index> sizes = {train.features()};
  sizes.insert(sizes.end(), o.hidden.begin(), o.hidden.end());
  sizes.push_back(std::max(train.classes(), test.classes()));
  std::mt19937_64 rng(o.seed);
  nn::Sequential<float> model =
      nn::mlp<float>(sizes, nn::parse_activation(o.activation), rng, nn::parse_init(o.init));
  fmt::print("\n{}\n", model.summary());
  auto optimizer = make_optimizer(o, model.parameters());
  fmt::print("{}, lr {:g} ({} schedule), weight decay {:g}, batch {}, {} epochs, seed {}\n\n",
             o.optimizer, o.lr, o.schedule, o.weight_decay, o.batch_size, o.epochs, o.seed);

  nn::FitOptions<float> fit{.epochs = o.epochs,
                            .batch_size = o.batch_size,
                            .seed = o.seed,
                            .validation = &test,
                            .schedule = make_schedule(o)};
  const nn::History history = nn::fit<float>(model, nn::CrossEntropy{}, *optimizer, train, fit);

  double seconds = 0;
  for (const auto& e : history.epochs) seconds += e.seconds;
  if (!history.epochs.empty()) {
    fmt::print("\nseconds per epoch: {:.2f} (mean of {})\n",
               seconds / static_cast<double>(history.epochs.size()), history.epochs.size());
  }
  const nn::Evaluation result = nn::evaluate<float>(model, nn::CrossEntropy{}, test);
  fmt::print("test loss: {:.4f}\n", result.loss);
  fmt::print("test accuracy: {:.4f}\n", result.accuracy);

  std::filesystem::create_directories(o.out);
  const auto model_path = output_path(o, o.model);
  const auto history_path = output_path(o, o.history);
  const auto plot_path = output_path(o, o.plot);
  nn::save(model, model_path);
  history.write_csv(history_path);
  fmt::print("\nsaved the model to {}\nsaved the history to {}\n", model_path.string(),
             history_path.string());
  try {
    nn::plot_history(history, plot_path);
    fmt::print("saved the curves to {}\n", plot_path.string());
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
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--schedule", o.schedule,
                 "learning-rate schedule: cosine (to 0 at the last epoch), step (x0.1 every "
                 "third of the epochs) or constant")
      ->check(CLI::IsMember({"cosine", "step", "constant"}))
      ->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay,
                 "L2 penalty (adam, sgd) or decoupled decay (adamw)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--momentum", o.momentum, "momentum (sgd)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "epochs")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "samples per step")
      ->check(CLI::Range(Eigen::Index{1}, Eigen::Index{1} << 20))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of initialisation and shuffling")->capture_default_str();
  app.add_option("--limit", o.limit, "train on the first N images only (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--out", o.out, "output directory")->capture_default_str();
  app.add_option("--model", o.model, "model file (in --out unless it has a directory)")
      ->capture_default_str();
  app.add_option("--history", o.history, "history CSV (in --out unless it has a directory)")
      ->capture_default_str();
  app.add_option("--plot", o.plot, "curves, .png or .svg (in --out unless it has a directory)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "train_mlp: {}\n", e.what());
    return 1;
  }
}
