// Regression with mean squared error (the lecture's first problem type): a network
// learns y = sin(3 x₁) + x₂² from 1000 noisy samples.

#include <ad/ad.hpp>
#include <ad/nn/nn.hpp>

#include <fmt/format.h>

#include <cmath>
#include <random>

namespace nn = ad::nn;

int main() {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.05);
  auto target = [](double a, double b) { return std::sin(3 * a) + b * b; };

  nn::Dataset<double> data;
  data.x = ad::random_uniform<double>(2, 1000, rng, -1.0, 1.0);
  data.y.resize(1, data.size());
  for (Eigen::Index j = 0; j < data.size(); ++j) {
    data.y(0, j) = target(data.x(0, j), data.x(1, j)) + noise(rng);
  }
  auto [train, validation] = data.split(0.2, 1);

  const std::vector<Eigen::Index> sizes = {2, 32, 32, 1};
  nn::Sequential<double> model = nn::mlp<double>(sizes, nn::Activation::tanh, rng);
  fmt::print("{}\n", model.summary());
  nn::Adam<double> optimizer(model.parameters(), {.lr = 1e-2});
  nn::History h = nn::fit(model, nn::MeanSquaredError{}, optimizer, train,
                          {.epochs = 200,
                           .batch_size = 32,
                           .validation = &validation,
                           .schedule = nn::cosine_lr(1e-2, 200),
                           .progress = nn::Progress::none});
  fmt::print(
      "mean squared error: first epoch {:.4f}, last epoch {:.4f} (validation {:.4f}; the "
      "noise alone gives 0.0025)\n",
      h.epochs.front().train_loss, h.epochs.back().train_loss, h.epochs.back().val_loss);

  ad::Matrix<double> points(2, 3);
  points << 0.0, 0.5, -0.8,  //
      0.0, -0.5, 0.9;
  const ad::Matrix<double> predicted = nn::predict<double>(model, points);
  for (Eigen::Index j = 0; j < points.cols(); ++j) {
    fmt::print("f({:+.1f}, {:+.1f}) = {:+.3f}, predicted {:+.3f}\n", points(0, j), points(1, j),
               target(points(0, j), points(1, j)), predicted(0, j));
  }
}
