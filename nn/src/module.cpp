#include <ad/format.hpp>
#include <ad/nn/module.hpp>
#include <ad/ops.hpp>

#include <fmt/format.h>

namespace ad::nn {

namespace {

// Checked before any member is built, so a bad size never reaches an allocation.
Index checked_out(Index in, Index out) {
  if (in <= 0 || out <= 0) {
    throw ShapeError("Dense", Shape{out, in},
                     fmt::format("a dense layer needs at least one input and one output, got "
                                 "in = {}, out = {}",
                                 in, out),
                     std::source_location::current());
  }
  return out;
}

}  // namespace

template <class T>
Dense<T>::Dense(Index in, Index out, std::mt19937_64& rng, Init init)
    : weight_(Matrix<T>::Zero(checked_out(in, out), in), "W"), bias_(Matrix<T>::Zero(out, 1), "b") {
  initialize(weight_, bias_, init, rng);
}

template <class T>
Var<T> Dense<T>::forward(const Var<T>& x) {
  if (x.rows() != weight_.cols()) {
    throw ShapeError("Dense", Shape{weight_.rows(), weight_.cols()}, x.shape(),
                     fmt::format("{} takes inputs of {} features (rows) but got {}", describe(),
                                 weight_.cols(), x.rows()),
                     std::source_location::current());
  }
  Tape<T>& tape = x.tape();
  return tape.parameter(weight_) * x + tape.parameter(bias_);
}

template <class T>
std::string Dense<T>::describe() const {
  return fmt::format("Dense({} -> {})", weight_.cols(), weight_.rows());
}

std::string_view to_string(Activation a) {
  switch (a) {
    case Activation::relu:
      return "relu";
    case Activation::tanh:
      return "tanh";
    case Activation::sigmoid:
      return "sigmoid";
    case Activation::identity:
      return "identity";
  }
  return "?";
}

Activation parse_activation(std::string_view name) {
  for (Activation a :
       {Activation::relu, Activation::tanh, Activation::sigmoid, Activation::identity}) {
    if (name == to_string(a)) return a;
  }
  throw ad::Error(
      fmt::format("unknown activation '{}': choose relu, tanh, sigmoid or identity", name));
}

template <class T>
std::unique_ptr<Layer<T>> make_activation(Activation a) {
  switch (a) {
    case Activation::relu:
      return std::make_unique<ReLU<T>>();
    case Activation::tanh:
      return std::make_unique<Tanh<T>>();
    case Activation::sigmoid:
      return std::make_unique<Sigmoid<T>>();
    case Activation::identity:
      break;
  }
  return std::make_unique<Identity<T>>();
}

template <class T>
Layer<T>& Sequential<T>::add(std::unique_ptr<Layer<T>> layer) {
  layers_.push_back(std::move(layer));
  return *layers_.back();
}

template <class T>
Var<T> Sequential<T>::forward(const Var<T>& x) {
  Var<T> a = x;
  for (auto& layer : layers_) a = layer->forward(a);
  return a;
}

template <class T>
std::vector<Parameter<T>*> Sequential<T>::parameters() {
  std::vector<Parameter<T>*> all;
  for (auto& layer : layers_) {
    for (Parameter<T>* p : layer->parameters()) all.push_back(p);
  }
  return all;
}

template <class T>
std::string Sequential<T>::describe() const {
  std::string s = "Sequential(";
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    s += (i ? ", " : "") + layers_[i]->describe();
  }
  return s + ")";
}

template <class T>
std::optional<Index> Sequential<T>::input_features() const {
  for (const auto& layer : layers_) {
    if (auto in = layer->input_features()) return in;
  }
  return std::nullopt;
}

template <class T>
Index Sequential<T>::output_features(Index in) const {
  for (const auto& layer : layers_) in = layer->output_features(in);
  return in;
}

template <class T>
Index Sequential<T>::parameter_count() {
  Index n = 0;
  for (const Parameter<T>* p : parameters()) n += p->size();
  return n;
}

template <class T>
std::string Sequential<T>::summary() {
  std::string s = fmt::format("{:<28}{:>12}{:>14}\n", "layer", "output", "parameters");
  Index features = input_features().value_or(0);
  s += fmt::format("{:<28}{:>12}{:>14}\n", "input", fmt::format("{} x N", features), "");
  for (auto& layer : layers_) {
    features = layer->output_features(features);
    Index count = 0;
    for (const Parameter<T>* p : layer->parameters()) count += p->size();
    s += fmt::format("{:<28}{:>12}{:>14}\n", layer->describe(), fmt::format("{} x N", features),
                     count);
  }
  s += fmt::format("total parameters: {}\n", parameter_count());
  return s;
}

template <class T>
Sequential<T> mlp(std::span<const Index> sizes, Activation hidden, std::mt19937_64& rng,
                  Init init) {
  if (sizes.size() < 2) {
    throw ad::Error(fmt::format("mlp needs at least an input and an output size, got {} size(s)",
                                sizes.size()));
  }
  Sequential<T> model;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    model.add(Dense<T>(sizes[i], sizes[i + 1], rng, init));
    if (i + 2 < sizes.size()) model.add(make_activation<T>(hidden));
  }
  return model;
}

template class Dense<float>;
template class Dense<double>;
template class Sequential<float>;
template class Sequential<double>;
template std::unique_ptr<Layer<float>> make_activation(Activation);
template std::unique_ptr<Layer<double>> make_activation(Activation);
template Sequential<float> mlp(std::span<const Index>, Activation, std::mt19937_64&, Init);
template Sequential<double> mlp(std::span<const Index>, Activation, std::mt19937_64&, Init);

}  // namespace ad::nn
