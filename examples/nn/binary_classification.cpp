// Binary classification with binary cross-entropy (the lecture's second problem type):
// points inside a circle against points on a ring around it, which no straight line
// separates.

#include <ad/ad.hpp>
#include <ad/nn/nn.hpp>

#include <fmt/format.h>

#include <cmath>
#include <numbers>
#include <random>

namespace nn = ad::nn;

int main() {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> angle(0, 2 * std::numbers::pi);
  std::normal_distribution<double> jitter(0.0, 0.15);
  nn::Dataset<double> data;
  const Eigen::Index n = 800;
  data.x.resize(2, n);
  data.y.resize(1, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    const int label = static_cast<int>(j % 2);
    const double radius = (label ? 2.0 : 0.8) + jitter(rng);
    const double a = angle(rng);
    data.x(0, j) = radius * std::cos(a);
    data.x(1, j) = radius * std::sin(a);
    data.y(0, j) = label;
    data.labels.push_back(label);
  }
  auto [train, test] = data.split(0.25, 1);

  const std::vector<Eigen::Index> sizes = {2, 16, 16, 1};
  nn::Sequential<double> model =
      nn::mlp<double>(sizes, nn::Activation::relu, rng, nn::Init::he_normal);
  fmt::print("{}\n", model.summary());
  nn::Adam<double> optimizer(model.parameters(), {.lr = 1e-2});
  nn::fit(model, nn::BinaryCrossEntropy{}, optimizer, train,
          {.epochs = 40, .batch_size = 32, .validation = &test, .progress = nn::Progress::none});
  const nn::Evaluation e = nn::evaluate(model, nn::BinaryCrossEntropy{}, test);
  fmt::print("test: binary cross-entropy {:.4f}, accuracy {:.4f} on {} points\n", e.loss,
             e.accuracy, test.size());
}
