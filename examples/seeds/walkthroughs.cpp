#include "walkthroughs.hpp"

#include <cmath>

namespace walkthroughs {

std::vector<double> single_weight(const SingleWeight& p) {
  ad::Tape<double> tape;
  ad::Parameter<double> w(Mat::Constant(1, 1, p.w0));
  const Mat a = Mat::Constant(1, 1, p.a);
  std::vector<double> trajectory;
  for (int step = 0; step < p.steps; ++step) {
    tape.clear();
    auto error = tape.constant(a) * tape.parameter(w) - p.target;
    tape.backward(hadamard(error, error));  // C = (a·w − target)²
    w.value() -= p.rate * w.grad();
    w.zero_grad();
    trajectory.push_back(w.value()(0, 0));
  }
  return trajectory;
}

ThreeLayer ThreeLayer::seed() {
  ThreeLayer n;
  n.W1 = Mat{{0.1, -0.2}, {0.3, 0.4}};
  n.W2 = Mat{{-0.5, 0.6}, {0.7, -0.8}};
  n.W3 = Mat{{0.9, -1.0}};
  n.I = Mat{{0.5}, {-1.5}};
  return n;
}

namespace {

Mat logistic(const Mat& z) { return (1.0 / (1.0 + (-z.array()).exp())).matrix(); }

}  // namespace

ThreeLayerResult three_layer_sigmoid(const ThreeLayer& n) {
  ThreeLayerResult r;
  auto network = [&](std::span<const ad::Var<double>> W) {
    auto I = W[0].tape().constant(n.I);
    return sigmoid(W[2] * sigmoid(W[1] * sigmoid(W[0] * I)));
  };

  ad::Tape<double> tape;
  const ad::Var<double> W[] = {tape.variable(n.W1, "W1"), tape.variable(n.W2, "W2"),
                               tape.variable(n.W3, "W3")};
  auto I = tape.constant(n.I, "I");
  auto y = sigmoid(W[2] * sigmoid(W[1] * sigmoid(W[0] * I)));
  tape.backward(y);
  r.y = y.value()(0, 0);
  r.dW1 = W[0].grad();
  r.dW2 = W[1].grad();
  r.dW3 = W[2].grad();
  for (int l = 0; l < 3; ++l) {
    const auto d = ad::explain(y, W[l]);
    r.explained[l] = d.formula();
    r.derivation[l] = d.text();
    r.explained_dW[l] = d.evaluate();
  }
  r.dot = ad::to_dot(y, {.norms = true, .title = "y = σ(W3 σ(W2 σ(W1 I)))"});

  // The same gradients in matrix form. With z(l) the pre-activations and ψ' = ψ(1 − ψ):
  //   δ3 = ψ'(z3)                              1x1
  //   δ2 = (W3ᵀ δ3) ⊙ ψ'(z2)                   2x1
  //   δ1 = (W2ᵀ δ2) ⊙ ψ'(z1)                   2x1
  //   ∂y/∂W3 = δ3 a2ᵀ,  ∂y/∂W2 = δ2 a1ᵀ,  ∂y/∂W1 = δ1 Iᵀ
  // Each gradient has its weight's shape because it is an outer product of a column
  // (the δ of the layer's output) and a row (the layer's input, transposed).
  const Mat a1 = logistic(n.W1 * n.I);
  const Mat a2 = logistic(n.W2 * a1);
  const Mat a3 = logistic(n.W3 * a2);
  auto dpsi = [](const Mat& a) { return (a.array() * (1.0 - a.array())).matrix(); };
  const Mat d3 = dpsi(a3);
  const Mat d2 = (n.W3.transpose() * d3).cwiseProduct(dpsi(a2));
  const Mat d1 = (n.W2.transpose() * d2).cwiseProduct(dpsi(a1));
  r.matrix_dW3 = d3 * a2.transpose();
  r.matrix_dW2 = d2 * a1.transpose();
  r.matrix_dW1 = d1 * n.I.transpose();

  r.check = ad::gradcheck(network, {n.W1, n.W2, n.W3});
  return r;
}

std::vector<std::string> seed_product_shapes(const ThreeLayer& n) {
  // The seed's factors, as written: ψ' of each layer's input and the weights, untransposed.
  const ad::Shape z3{n.W3.rows(), n.I.cols()}, z2{n.W2.rows(), n.I.cols()},
      z1{n.W1.rows(), n.I.cols()};
  const std::pair<const char*, ad::Shape> factors[] = {
      {"ψ'(z3)", z3}, {"W3", {n.W3.rows(), n.W3.cols()}},
      {"ψ'(z2)", z2}, {"W2", {n.W2.rows(), n.W2.cols()}},
      {"ψ'(z1)", z1}, {"I", {n.I.rows(), n.I.cols()}}};
  std::vector<std::string> lines;
  std::string product = factors[0].first;
  ad::Shape shape = factors[0].second;
  for (std::size_t k = 1; k < std::size(factors); ++k) {
    const auto& [name, next] = factors[k];
    if (shape.cols != next.rows) {
      lines.push_back(fmt::format("{} x {}: ({}) x ({}) does not fit: {} columns against {} rows",
                                  product, name, ad::to_string(shape), ad::to_string(next),
                                  shape.cols, next.rows));
      break;
    }
    const ad::Shape result{shape.rows, next.cols};
    lines.push_back(fmt::format("{} x {}: ({}) x ({}) → {}", product, name, ad::to_string(shape),
                                ad::to_string(next), ad::to_string(result)));
    product += " x " + std::string(name);
    shape = result;
  }
  return lines;
}

LectureChainResult lecture_chain(const LectureChain& p) {
  LectureChainResult r;
  ad::Tape<double> tape;
  const ad::Var<double> w[] = {tape.variable(Mat::Constant(1, 1, p.w1), "w(1)"),
                               tape.variable(Mat::Constant(1, 1, p.w2), "w(2)"),
                               tape.variable(Mat::Constant(1, 1, p.w3), "w(3)")};
  // a(1) = x, z(l+1) = w(l) a(l), a(l+1) = σ(z(l+1)), ŷ = a(4); named as in the lecture.
  ad::Var<double> a = tape.constant(Mat::Constant(1, 1, p.x), "a(1)");
  for (int l = 1; l <= 3; ++l) {
    auto z = (w[l - 1] * a).named(fmt::format("z({})", l + 1));
    a = sigmoid(z).named(fmt::format("a({})", l + 1));
  }
  // J = −(y ln ŷ + (1 − y) ln(1 − ŷ))
  auto J = (-(p.y * log(a) + (1.0 - p.y) * log(1.0 - a))).named("J");
  tape.backward(J);
  r.y_hat = a.value()(0, 0);
  r.loss = J.value()(0, 0);
  for (int l = 0; l < 3; ++l) r.tape[l] = w[l].grad()(0, 0);
  r.steps = ad::explain(J, w[0]).steps();
  for (int l = 0; l < 3; ++l) r.explained[l] = ad::explain(J, w[l]).evaluate()(0, 0);

  // The lecture's recursion, by hand. δ(4) = ∂J/∂z(4) = a(4) − y for a sigmoid output
  // with cross-entropy; δ(l) = δ(l+1) w(l) σ'(z(l)); ∂J/∂w(l) = δ(l+1) a(l).
  const double weights[] = {p.w1, p.w2, p.w3};
  double act[5];  // act[l] = a(l), 1-based as in the lecture
  act[1] = p.x;
  for (int l = 1; l <= 3; ++l) act[l + 1] = 1.0 / (1.0 + std::exp(-weights[l - 1] * act[l]));
  double delta = act[4] - p.y;  // δ(4)
  for (int l = 3; l >= 1; --l) {
    r.recursion[l - 1] = delta * act[l];
    delta = delta * weights[l - 1] * act[l] * (1.0 - act[l]);  // δ(l), σ'(z(l)) = a(l)(1 − a(l))
  }
  return r;
}

}  // namespace walkthroughs
