#include <ad/error.hpp>
#include <ad/nn/optim.hpp>

#include "slices.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <utility>

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace ad::nn {
namespace {

using Eigen::Index;

// Makes the CPU treat subnormal numbers as zero, as operands and as results (x86's DAZ
// and FTZ modes), until it goes out of scope. Where a gradient is zero in most batches
// (pixels blank in nearly every image, units that stopped firing), an optimiser's state
// decays geometrically into the subnormal range and stays there (Adam's first moment, by
// β₁ = 0.9 a step, within a thousand steps), and arithmetic on subnormals is many times
// slower: on Fashion-MNIST, Adam's step took 1.5 times as long by the second epoch. A
// flushed value is below 1.2e-38 (float), which moves no parameter of normal magnitude.
class SubnormalsAsZero {
 public:
#if defined(__SSE__)
  SubnormalsAsZero() : saved_(_mm_getcsr()) {
    _mm_setcsr(saved_ | _MM_FLUSH_ZERO_ON | _MM_DENORMALS_ZERO_ON);
  }
  // The mode as it was, with the exception flags raised meanwhile.
  ~SubnormalsAsZero() { _mm_setcsr(saved_ | (_mm_getcsr() & _MM_EXCEPT_MASK)); }
  SubnormalsAsZero(const SubnormalsAsZero&) = delete;
  SubnormalsAsZero& operator=(const SubnormalsAsZero&) = delete;

 private:
  unsigned saved_;
#endif
};

// Adam updates a parameter block by block, every statement on one block before the next:
// a block of each array (p, g, m, v) stays in the L1 cache, so that the update reads and
// writes each array once instead of once per statement.
constexpr Index block_size = 1024;

template <class T>
std::vector<typename Parameter<T>::Matrix> zeros_like(const ParameterList<T>& parameters) {
  std::vector<typename Parameter<T>::Matrix> state;
  state.reserve(parameters.size());
  for (const Parameter<T>* p : parameters) {
    state.push_back(Parameter<T>::Matrix::Zero(p->rows(), p->cols()));
  }
  return state;
}

// A coefficient (momentum, weight decay, ε) must be a finite number >= 0: NaN would pass
// every step unnoticed into the parameters.
void check_coefficient(const char* optimiser, const char* name, double value) {
  if (!(std::isfinite(value) && value >= 0)) {
    throw ad::Error(
        fmt::format("{}: the {} must be a finite number >= 0, got {}", optimiser, name, value));
  }
}

void check_rate(const char* who, double lr) {
  if (!(std::isfinite(lr) && lr >= 0)) {
    throw ad::Error(
        fmt::format("{}: the learning rate must be a finite number >= 0, got {}", who, lr));
  }
}

}  // namespace

template <class T>
Optimizer<T>::Optimizer(ParameterList<T> parameters, double lr)
    : parameters_(std::move(parameters)), lr_(0) {
  for (const Parameter<T>* p : parameters_) {
    if (p == nullptr) throw ad::Error("an optimiser was given a null parameter");
    elements_ += p->size();
  }
  set_learning_rate(lr);
}

template <class T>
void Optimizer<T>::check_slice(Index begin, Index end) const {
  if (!(0 <= begin && begin <= end && end <= elements_)) {
    throw ad::Error(
        fmt::format("optimiser: the slice [{}, {}) is not within the parameters' {} elements",
                    begin, end, elements_));
  }
}

template <class T>
void Optimizer<T>::set_learning_rate(double lr) {
  check_rate("optimiser", lr);
  if (lr > static_cast<double>(std::numeric_limits<T>::max())) {
    throw ad::Error(fmt::format("optimiser: the learning rate {} does not fit in a {}", lr,
                                sizeof(T) == 4 ? "float" : "double"));
  }
  lr_ = lr;
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (Parameter<T>* p : parameters_) p->zero_grad();
}

template <class T>
SGD<T>::SGD(ParameterList<T> parameters, SGDOptions options)
    : Optimizer<T>(std::move(parameters), options.lr), options_(options) {
  check_coefficient("SGD", "momentum", options_.momentum);
  check_coefficient("SGD", "weight decay", options_.weight_decay);
  if (options_.nesterov && options_.momentum <= 0) {
    throw ad::Error("SGD: Nesterov momentum needs a momentum > 0");
  }
  if (options_.momentum != 0) velocity_ = zeros_like(this->parameters_);
}

template <class T>
void SGD<T>::step_slice(Index begin, Index end) {
  this->check_slice(begin, end);
  const T lr = static_cast<T>(this->lr_);
  const T mu = static_cast<T>(options_.momentum);
  const T decay = static_cast<T>(options_.weight_decay);
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  [[maybe_unused]] const SubnormalsAsZero flush;
  detail::for_each_in_slice(
      this->parameters_, begin, end, [&](std::size_t i, Index, Index from, Index to) {
        Parameter<T>& parameter = *this->parameters_[i];
        Eigen::Map<Array> p(parameter.value().data() + from, to - from);
        const auto g =
            Eigen::Map<const Array>(parameter.grad().data() + from, to - from) + decay * p;
        if (velocity_.empty()) {
          p -= lr * g;
          return;
        }
        Eigen::Map<Array> v(velocity_[i].data() + from, to - from);
        v = mu * v + g;
        if (options_.nesterov) {
          p -= lr * (g + mu * v);
        } else {
          p -= lr * v;
        }
      });
}

template <class T>
typename Optimizer<T>::State SGD<T>::state() {
  typename Optimizer<T>::State s;
  for (auto& v : velocity_) s.arrays.emplace_back(v.data(), static_cast<std::size_t>(v.size()));
  return s;
}

template <class T>
Adam<T>::Adam(ParameterList<T> parameters, AdamOptions options)
    : Adam(std::move(parameters), options, false) {}

template <class T>
Adam<T>::Adam(ParameterList<T> parameters, AdamOptions options, bool decoupled)
    : Optimizer<T>(std::move(parameters), options.lr), options_(options), decoupled_(decoupled) {
  if (!(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1)) {
    throw ad::Error(fmt::format("Adam: beta1 = {} and beta2 = {} must lie in [0, 1)", options.beta1,
                                options.beta2));
  }
  check_coefficient("Adam", "eps", options.eps);
  check_coefficient("Adam", "weight decay", options.weight_decay);
  Index total = 0;
  for (const Parameter<T>* p : this->parameters_) total += p->size();
  m_.setZero(total);
  v_.setZero(total);
}

template <class T>
void Adam<T>::step_slice(Index begin, Index end) {
  this->check_slice(begin, end);
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
  const T shrink = static_cast<T>(1 - lr * options_.weight_decay);
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  [[maybe_unused]] const SubnormalsAsZero flush;
  // A parameter's moments start in m_ and v_ where its elements do in the flattened order.
  detail::for_each_in_slice(
      this->parameters_, begin, end, [&](std::size_t i, Index offset, Index from, Index to) {
        Parameter<T>* const parameter = this->parameters_[i];
        for (Index start = from; start < to; start += block_size) {
          const Index size = std::min(block_size, to - start);
          Eigen::Map<Array> p(parameter->value().data() + start, size);
          const Eigen::Map<const Array> grad(parameter->grad().data() + start, size);
          auto m = m_.segment(offset + start, size);
          auto v = v_.segment(offset + start, size);
          if (decoupled_) {
            p *= shrink;
            m = beta1 * m + (1 - beta1) * grad;
            v = beta2 * v + (1 - beta2) * grad.square();
          } else {
            const auto g = grad + decay * p;
            m = beta1 * m + (1 - beta1) * g;
            v = beta2 * v + (1 - beta2) * g.square();
          }
          p -= step * m / (v.sqrt() / root_c2 + eps);
        }
      });
}

template <class T>
typename Optimizer<T>::State Adam<T>::state() {
  return {{std::span<T>(m_.data(), static_cast<std::size_t>(m_.size())),
           std::span<T>(v_.data(), static_cast<std::size_t>(v_.size()))},
          {&t_}};
}

Schedule constant_lr(double lr) {
  check_rate("constant_lr", lr);
  return [lr](double) { return lr; };
}

Schedule step_lr(double lr, double every, double gamma) {
  check_rate("step_lr", lr);
  if (!(every > 0)) throw ad::Error(fmt::format("step_lr: the step ({}) must be > 0", every));
  if (!(std::isfinite(gamma) && gamma >= 0)) {
    throw ad::Error(
        fmt::format("step_lr: the factor gamma must be a finite number >= 0, got {}", gamma));
  }
  return [=](double epoch) { return lr * std::pow(gamma, std::floor(epoch / every)); };
}

Schedule cosine_lr(double lr, double epochs, double min_lr, double warmup) {
  check_rate("cosine_lr", lr);
  check_rate("cosine_lr (min_lr)", min_lr);
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
