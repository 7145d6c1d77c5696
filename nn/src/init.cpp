#include <ad/error.hpp>
#include <ad/nn/init.hpp>

#include <fmt/format.h>

#include <cmath>

namespace ad::nn {

std::string_view to_string(Init init) {
  switch (init) {
    case Init::glorot_uniform:
      return "glorot_uniform";
    case Init::he_normal:
      return "he_normal";
    case Init::pytorch_uniform:
      return "pytorch_uniform";
  }
  return "?";
}

Init parse_init(std::string_view name) {
  for (Init i : {Init::glorot_uniform, Init::he_normal, Init::pytorch_uniform}) {
    if (name == to_string(i)) return i;
  }
  throw ad::Error(fmt::format(
      "unknown initialisation '{}': choose glorot_uniform, he_normal or pytorch_uniform", name));
}

template <class T>
void initialize(Parameter<T>& weight, Parameter<T>& bias, Init init, std::mt19937_64& rng) {
  const auto in = static_cast<T>(weight.cols());
  const auto out = static_cast<T>(weight.rows());
  auto fill = [&](Parameter<T>& p, auto&& dist) {
    p.value() = Parameter<T>::Matrix::NullaryExpr(p.rows(), p.cols(), [&] { return dist(rng); });
  };
  switch (init) {
    case Init::glorot_uniform: {
      const T limit = std::sqrt(T(6) / (in + out));
      fill(weight, std::uniform_real_distribution<T>(-limit, limit));
      bias.value().setZero();
      break;
    }
    case Init::he_normal:
      fill(weight, std::normal_distribution<T>(T(0), std::sqrt(T(2) / in)));
      bias.value().setZero();
      break;
    case Init::pytorch_uniform: {
      const T limit = T(1) / std::sqrt(in);
      fill(weight, std::uniform_real_distribution<T>(-limit, limit));
      fill(bias, std::uniform_real_distribution<T>(-limit, limit));
      break;
    }
  }
}

template void initialize(Parameter<float>&, Parameter<float>&, Init, std::mt19937_64&);
template void initialize(Parameter<double>&, Parameter<double>&, Init, std::mt19937_64&);

}  // namespace ad::nn
