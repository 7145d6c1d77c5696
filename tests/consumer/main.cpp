// A program that uses ad as a library: the gradient of the network of seed 001,
// y = σ(W3 σ(W2 σ(W1 I))), from the tape, from backpropagation written out by hand, and
// against central differences; then a small network trained on XOR, saved, and loaded back
// without the code that built it.
#include <ad/ad.hpp>
#include <ad/nn/nn.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <random>

namespace nn = ad::nn;
using Mat = ad::Matrix<double>;

Mat logistic(const Mat& z) { return (1 / (1 + (-z.array()).exp())).matrix(); }
// a ⊙ (1 − a): σ'(z) for a = σ(z)
Mat slope(const Mat& a) { return (a.array() * (1 - a.array())).matrix(); }

int main() {
  const Mat W1{{0.1, -0.2}, {0.3, 0.4}}, W2{{-0.5, 0.6}, {0.7, -0.8}}, W3{{0.9, -1.0}};
  const Mat I{{0.5}, {-1.5}};

  ad::Tape<double> tape;
  const auto w1 = tape.variable(W1), w2 = tape.variable(W2), w3 = tape.variable(W3);
  const auto y = sigmoid(w3 * sigmoid(w2 * sigmoid(w1 * tape.constant(I))));
  tape.backward(y);

  // By hand: δ3 = σ'(z3), δ2 = (W3ᵀ δ3) ⊙ σ'(z2), δ1 = (W2ᵀ δ2) ⊙ σ'(z1); ∂y/∂Wl = δl a(l−1)ᵀ.
  const Mat a1 = logistic(W1 * I), a2 = logistic(W2 * a1), a3 = logistic(W3 * a2);
  const Mat d3 = slope(a3);
  const Mat d2 = (W3.transpose() * d3).cwiseProduct(slope(a2));
  const Mat d1 = (W2.transpose() * d2).cwiseProduct(slope(a1));
  const double error = std::max({(w1.grad() - d1 * I.transpose()).cwiseAbs().maxCoeff(),
                                 (w2.grad() - d2 * a1.transpose()).cwiseAbs().maxCoeff(),
                                 (w3.grad() - d3 * a2.transpose()).cwiseAbs().maxCoeff()});
  fmt::print(
      "ad {}: y = {:.6f}\n∂y/∂W1 =\n{:.6f}\nlargest difference from the hand-derived "
      "gradient: {:.1e}\n",
      ad::version_string, y.value()(0, 0), w1.grad(), error);
  // And against central differences: gradcheck takes any callable of the weights, here one
  // closing over the input I.
  const ad::GradcheckResult check = ad::gradcheck(
      [&](const ad::Var<double>& v1, const ad::Var<double>& v2, const ad::Var<double>& v3) {
        return sigmoid(v3 * sigmoid(v2 * sigmoid(v1 * v1.tape().constant(I))));
      },
      {W1, W2, W3});
  fmt::print("{}\n", check);

  nn::Dataset<double> xor_data;
  xor_data.x = Mat{{0, 0, 1, 1}, {0, 1, 0, 1}};
  xor_data.y = Mat{{0, 1, 1, 0}};
  xor_data.labels = {0, 1, 1, 0};
  std::mt19937_64 rng(7);
  const Eigen::Index sizes[] = {2, 8, 1};
  auto model = nn::mlp<double>(sizes, nn::Activation::tanh, rng);
  nn::Adam<double> optimizer(model.parameters(), {.lr = 0.05});
  nn::fit(model, nn::BinaryCrossEntropy{}, optimizer, xor_data,
          {.epochs = 300, .batch_size = 4, .progress = nn::Progress::none});
  nn::save(model, "xor_model.bin");
  auto loaded = nn::load_model<double>("xor_model.bin");
  const Mat outputs = nn::predict(loaded, xor_data.x);
  const auto classes = nn::classes_of<double>(outputs);
  fmt::print("{}\nXOR logits after training: {:.3f}\n", loaded.summary(), outputs);

  const bool ok = error <= 1e-15 && check.passed && classes == xor_data.labels;
  fmt::print("{}\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
