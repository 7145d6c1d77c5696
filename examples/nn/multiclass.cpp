// Multi-class classification with softmax cross-entropy (the lecture's third problem
// type): three interleaved spiral arms in the plane, one class each.

#include <ad/ad.hpp>
#include <ad/nn/nn.hpp>

#include <fmt/format.h>

#include <cmath>
#include <random>

namespace nn = ad::nn;

int main() {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> jitter(0.0, 0.2);
  const int classes = 3;
  const Eigen::Index per_class = 300;
  nn::Dataset<double> data;
  data.x.resize(2, classes * per_class);
  for (int c = 0; c < classes; ++c) {
    for (Eigen::Index i = 0; i < per_class; ++i) {
      const double r = static_cast<double>(i) / static_cast<double>(per_class);
      const double theta = 4.0 * c + 4.0 * r + jitter(rng);
      const Eigen::Index j = c * per_class + i;
      data.x(0, j) = r * std::sin(theta);
      data.x(1, j) = r * std::cos(theta);
      data.labels.push_back(c);
    }
  }
  auto [train, test] = data.split(0.2, 1);

  const std::vector<Eigen::Index> sizes = {2, 64, 64, classes};
  nn::Sequential<double> model =
      nn::mlp<double>(sizes, nn::Activation::relu, rng, nn::Init::he_normal);
  fmt::print("{}\n", model.summary());
  nn::Adam<double> optimizer(model.parameters(), {.lr = 1e-2});
  nn::fit(model, nn::CrossEntropy{}, optimizer, train,
          {.epochs = 100,
           .batch_size = 32,
           .validation = &test,
           .schedule = nn::cosine_lr(1e-2, 100),
           .progress = nn::Progress::none});
  const nn::Evaluation e = nn::evaluate(model, nn::CrossEntropy{}, test);
  fmt::print("test: cross-entropy {:.4f}, accuracy {:.4f} on {} points (chance: 0.33)\n", e.loss,
             e.accuracy, test.size());
}
