#pragma once
// Weight initialisation for a dense layer with weight W (out x in) and bias b (out x 1),
// drawn from a caller's generator so that a seed fixes every value.

#include <ad/parameter.hpp>

#include <random>
#include <string_view>

namespace ad::nn {

enum class Init {
  // W ~ U(±√(6 / (in + out))), b = 0. Keeps the variance of activations and gradients
  // about equal across layers for tanh and sigmoid (Glorot and Bengio, 2010).
  glorot_uniform,
  // W ~ N(0, 2 / in), b = 0. The same for ReLU, which zeroes half its inputs (He et al., 2015).
  he_normal,
  // W, b ~ U(±1/√in): PyTorch's default for nn.Linear.
  pytorch_uniform,
};

// "glorot_uniform", "he_normal", "pytorch_uniform".
std::string_view to_string(Init init);
// The inverse of to_string; an ad::Error listing the choices for any other name.
Init parse_init(std::string_view name);

template <class T>
void initialize(Parameter<T>& weight, Parameter<T>& bias, Init init, std::mt19937_64& rng);

}  // namespace ad::nn
