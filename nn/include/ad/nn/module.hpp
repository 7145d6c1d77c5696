#pragma once
// Layers and models. A layer records its computation on the tape of its input; it owns
// its parameters, which persist across steps and are recorded by reference
// (Tape::parameter), never copied onto the tape.
//
//   std::mt19937_64 rng(42);
//   nn::Sequential<float> model;
//   model.add(nn::Dense<float>(784, 256, rng, nn::Init::he_normal));
//   model.add(nn::ReLU<float>());
//   model.add(nn::Dense<float>(256, 10, rng));
//   auto logits = model(tape.constant(batch));     // 10 x batch
//   fmt::print("{}", model.summary());

#include <ad/nn/init.hpp>
#include <ad/ops.hpp>  // the activation layers' ops
#include <ad/parameter.hpp>
#include <ad/tape.hpp>

#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ad::nn {

using Eigen::Index;

template <class T>
class Layer {
 public:
  virtual ~Layer() = default;

  // Records the layer on x's tape; x is features x batch.
  virtual Var<T> forward(const Var<T>& x) = 0;
  Var<T> operator()(const Var<T>& x) { return forward(x); }

  // The layer's parameters in a fixed order (saving and loading rely on it).
  virtual std::vector<Parameter<T>*> parameters() { return {}; }
  // A short description for summaries: "Dense(784 -> 256)", "ReLU".
  virtual std::string describe() const = 0;
  // Features in, if the layer fixes them, and features out for a given number in.
  virtual std::optional<Index> input_features() const { return std::nullopt; }
  virtual Index output_features(Index in) const { return in; }
};

// z = W a + b for a batch of columns a (in x batch); W is out x in, b is out x 1.
template <class T>
class Dense final : public Layer<T> {
 public:
  Dense(Index in, Index out, std::mt19937_64& rng, Init init = Init::pytorch_uniform);

  Var<T> forward(const Var<T>& x) override;
  std::vector<Parameter<T>*> parameters() override { return {&weight_, &bias_}; }
  std::string describe() const override;
  std::optional<Index> input_features() const override { return weight_.cols(); }
  Index output_features(Index) const override { return weight_.rows(); }

  Parameter<T>& weight() { return weight_; }
  Parameter<T>& bias() { return bias_; }

 private:
  Parameter<T> weight_;
  Parameter<T> bias_;
};

// Elementwise activations, one layer each.
template <class T>
class Sigmoid final : public Layer<T> {
 public:
  Var<T> forward(const Var<T>& x) override { return sigmoid(x); }
  std::string describe() const override { return "Sigmoid"; }
};

template <class T>
class Tanh final : public Layer<T> {
 public:
  Var<T> forward(const Var<T>& x) override { return tanh(x); }
  std::string describe() const override { return "Tanh"; }
};

template <class T>
class ReLU final : public Layer<T> {
 public:
  Var<T> forward(const Var<T>& x) override { return relu(x); }
  std::string describe() const override { return "ReLU"; }
};

template <class T>
class Identity final : public Layer<T> {
 public:
  Var<T> forward(const Var<T>& x) override { return x; }
  std::string describe() const override { return "Identity"; }
};

enum class Activation { relu, tanh, sigmoid, identity };

// "relu", "tanh", "sigmoid", "identity"; parse_activation throws ad::Error for others.
std::string_view to_string(Activation a);
Activation parse_activation(std::string_view name);

template <class T>
std::unique_ptr<Layer<T>> make_activation(Activation a);

// Layers applied in order; itself a layer, so models nest.
template <class T>
class Sequential final : public Layer<T> {
 public:
  Sequential() = default;

  // Appends a layer and returns it (in place, so a Dense's parameters can be reached).
  template <class L>
  L& add(L layer) {
    auto owned = std::make_unique<L>(std::move(layer));
    L& ref = *owned;
    layers_.push_back(std::move(owned));
    return ref;
  }
  Layer<T>& add(std::unique_ptr<Layer<T>> layer);

  Var<T> forward(const Var<T>& x) override;
  std::vector<Parameter<T>*> parameters() override;
  std::string describe() const override;
  std::optional<Index> input_features() const override;
  Index output_features(Index in) const override;

  std::size_t size() const { return layers_.size(); }
  Layer<T>& operator[](std::size_t i) { return *layers_[i]; }

  // Number of trainable scalars.
  Index parameter_count();
  // A table of the layers with their output features and parameter counts, and the total.
  std::string summary();

 private:
  std::vector<std::unique_ptr<Layer<T>>> layers_;
};

// A multilayer perceptron: sizes = {in, hidden..., out}; Dense layers with `hidden`
// between them and no activation after the last (it gives logits or a regression output).
template <class T>
Sequential<T> mlp(std::span<const Index> sizes, Activation hidden, std::mt19937_64& rng,
                  Init init = Init::pytorch_uniform);

extern template class Dense<float>;
extern template class Dense<double>;
extern template class Sequential<float>;
extern template class Sequential<double>;

}  // namespace ad::nn
