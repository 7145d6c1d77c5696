#include <ad/error.hpp>
#include <ad/nn/optim.hpp>

#include <fmt/format.h>

#include <cmath>
#include <numbers>
#include <utility>

namespace ad::nn {
namespace {

template <class T>
std::vector<typename Parameter<T>::Matrix> zeros_like(const ParameterList<T>& parameters) {
  std::vector<typename Parameter<T>::Matrix> state;
  state.reserve(parameters.size());
  for (const Parameter<T>* p : parameters) {
    state.push_back(Parameter<T>::Matrix::Zero(p->rows(), p->cols()));
  }
  return state;
}

}  // namespace

template <class T>
Optimizer<T>::Optimizer(ParameterList<T> parameters, double lr)
    : parameters_(std::move(parameters)), lr_(lr) {
  for (const Parameter<T>* p : parameters_) {
    if (p == nullptr) throw ad::Error("an optimiser was given a null parameter");
  }
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (Parameter<T>* p : parameters_) p->zero_grad();
}

template <class T>
SGD<T>::SGD(ParameterList<T> parameters, SGDOptions options)
    : Optimizer<T>(std::move(parameters), options.lr), options_(options) {
  if (options_.nesterov && options_.momentum <= 0) {
    throw ad::Error("SGD: Nesterov momentum needs a momentum > 0");
  }
  if (options_.momentum != 0) velocity_ = zeros_like(this->parameters_);
}

template <class T>
void SGD<T>::step() {
  const T lr = static_cast<T>(this->lr_);
  const T mu = static_cast<T>(options_.momentum);
  const T decay = static_cast<T>(options_.weight_decay);
  for (std::size_t i = 0; i < this->parameters_.size(); ++i) {
    auto p = this->parameters_[i]->value().array();
    auto g = this->parameters_[i]->grad().array() + decay * p;
    if (velocity_.empty()) {
      p -= lr * g;
      continue;
    }
    auto v = velocity_[i].array();
    v = mu * v + g;
    if (options_.nesterov) {
      p -= lr * (g + mu * v);
    } else {
      p -= lr * v;
    }
  }
}

template <class T>
Adam<T>::Adam(ParameterList<T> parameters, AdamOptions options)
    : Adam(std::move(parameters), options, false) {}

template <class T>
Adam<T>::Adam(ParameterList<T> parameters, AdamOptions options, bool decoupled)
    : Optimizer<T>(std::move(parameters), options.lr),
      options_(options),
      decoupled_(decoupled),
      m_(zeros_like(this->parameters_)),
      v_(zeros_like(this->parameters_)) {
  if (!(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1)) {
    throw ad::Error(fmt::format("Adam: beta1 = {} and beta2 = {} must lie in [0, 1)", options.beta1,
                                options.beta2));
  }
}

template <class T>
void Adam<T>::step() {
  ++t_;
  const double lr = this->lr_;
  const T beta1 = static_cast<T>(options_.beta1);
  const T beta2 = static_cast<T>(options_.beta2);
  const T eps = static_cast<T>(options_.eps);
  const T decay = static_cast<T>(options_.weight_decay);
  // The bias corrections folded into the step size and into ε:
  // η m̂ / (√v̂ + ε) = (η / c₁) m / (√v / √c₂ + ε).
  const double c1 = 1 - std::pow(options_.beta1, static_cast<double>(t_));
  const double c2 = 1 - std::pow(options_.beta2, static_cast<double>(t_));
  const T step = static_cast<T>(lr / c1);
  const T root_c2 = static_cast<T>(std::sqrt(c2));
  for (std::size_t i = 0; i < this->parameters_.size(); ++i) {
    auto p = this->parameters_[i]->value().array();
    auto m = m_[i].array();
    auto v = v_[i].array();
    if (decoupled_) {
      p *= static_cast<T>(1 - lr * options_.weight_decay);
      m = beta1 * m + (1 - beta1) * this->parameters_[i]->grad().array();
      v = beta2 * v + (1 - beta2) * this->parameters_[i]->grad().array().square();
    } else {
      auto g = this->parameters_[i]->grad().array() + decay * p;
      m = beta1 * m + (1 - beta1) * g;
      v = beta2 * v + (1 - beta2) * g.square();
    }
    p -= step * m / (v.sqrt() / root_c2 + eps);
  }
}

Schedule constant_lr(double lr) {
  return [lr](double) { return lr; };
}

Schedule step_lr(double lr, double every, double gamma) {
  if (!(every > 0)) throw ad::Error(fmt::format("step_lr: the step ({}) must be > 0", every));
  return [=](double epoch) { return lr * std::pow(gamma, std::floor(epoch / every)); };
}

Schedule cosine_lr(double lr, double epochs, double min_lr, double warmup) {
  if (!(epochs > 0) || warmup < 0 || warmup >= epochs) {
    throw ad::Error(fmt::format(
        "cosine_lr: needs epochs > 0 and 0 <= warm-up < epochs, got epochs = {}, warm-up = {}",
        epochs, warmup));
  }
  return [=](double epoch) {
    if (epoch < warmup) return lr * epoch / warmup;
    const double progress = std::min(1.0, (epoch - warmup) / (epochs - warmup));
    return min_lr + (lr - min_lr) * (1 + std::cos(std::numbers::pi * progress)) / 2;
  };
}

template class Optimizer<float>;
template class Optimizer<double>;
template class SGD<float>;
template class SGD<double>;
template class Adam<float>;
template class Adam<double>;

}  // namespace ad::nn
