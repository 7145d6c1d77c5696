#pragma once
// Optimisers update parameters in place from their gradients; learning-rate schedules
// give the rate as a function of training progress.
//
//   nn::AdamW<float> opt(model.parameters(), {.lr = 1e-3, .weight_decay = 1e-4});
//   opt.zero_grad();  tape.backward(loss);  opt.step();
//
// Each optimiser allocates its state (velocities, moments) when constructed, so a step
// allocates nothing. During a step, subnormal numbers count as zero (on x86): state that
// decays towards zero would otherwise turn subnormal and slow every later step several
// times over; a flushed value is below 1.2e-38 and moves no parameter of normal magnitude.

#include <ad/parameter.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

namespace ad::nn {

template <class T>
using ParameterList = std::vector<Parameter<T>*>;

template <class T>
class Optimizer {
 public:
  Optimizer(ParameterList<T> parameters, double lr);
  virtual ~Optimizer() = default;

  // One update of every parameter from its gradient.
  void step() { step_slice(0, elements_); }
  // The same update of the elements [begin, end) of the parameters flattened in order (each
  // parameter's elements in storage order, one parameter after another), the others left
  // as they are; the counters (Adam's step count) advance as in step(). Replicas that share
  // a step's work (train_in_threads, mpi::Replicas on one machine) call it once each, on
  // disjoint slices. An ad::Error
  // unless 0 <= begin <= end <= elements().
  virtual void step_slice(Eigen::Index begin, Eigen::Index end) = 0;
  void zero_grad();
  // The number of elements of all the parameters together.
  Eigen::Index elements() const { return elements_; }

  double learning_rate() const { return lr_; }
  // An ad::Error, and the rate unchanged, unless lr is a finite number >= 0 that is finite
  // in T too (1e300 is not a float). The constructor checks its rate the same way.
  void set_learning_rate(double lr);
  const ParameterList<T>& parameters() const { return parameters_; }

  // What the optimiser carries from step to step besides its rate: arrays of T (SGD's
  // velocities, Adam's moments) and counters (Adam's step count), as views into the
  // optimiser. Checkpoints save them and replicas copy them; writing through the views sets
  // the optimiser's state exactly. The arrays, one after another, are whole copies of the
  // flattened parameters (none for plain SGD, one for SGD's velocity, two for Adam's m and
  // v): step_slice(begin, end) changes the elements [begin, end) of each copy and no other.
  struct State {
    std::vector<std::span<T>> arrays;
    std::vector<std::int64_t*> counters;
  };
  virtual State state() { return {}; }

 protected:
  // An ad::Error unless 0 <= begin <= end <= elements().
  void check_slice(Eigen::Index begin, Eigen::Index end) const;

  ParameterList<T> parameters_;
  double lr_;

 private:
  Eigen::Index elements_ = 0;
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0;
  bool nesterov = false;
  // L2 penalty: λ p is added to the gradient.
  double weight_decay = 0;
};

// With g = ∇ + λ p:  v ← μ v + g;  p ← p − η (g + μ v) with Nesterov, else p ← p − η v
// (plain SGD when μ = 0). The same update as PyTorch's SGD without dampening.
template <class T>
class SGD final : public Optimizer<T> {
 public:
  SGD(ParameterList<T> parameters, SGDOptions options);
  void step_slice(Eigen::Index begin, Eigen::Index end) override;
  typename Optimizer<T>::State state() override;

 private:
  SGDOptions options_;
  std::vector<typename Parameter<T>::Matrix> velocity_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  // Adam: an L2 penalty added to the gradient; AdamW: decoupled decay p ← p (1 − η λ).
  double weight_decay = 0;
};

// m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g ⊙ g;
// p ← p − η m̂ ⊘ (√v̂ + ε) with m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ) (Kingma and Ba, 2015).
// The same update as PyTorch's Adam.
template <class T>
class Adam : public Optimizer<T> {
 public:
  Adam(ParameterList<T> parameters, AdamOptions options = {});
  void step_slice(Eigen::Index begin, Eigen::Index end) override;
  typename Optimizer<T>::State state() override;

 protected:
  Adam(ParameterList<T> parameters, AdamOptions options, bool decoupled);

 private:
  AdamOptions options_;
  bool decoupled_ = false;
  std::int64_t t_ = 0;
  // The moments of every parameter, one after another in parameter order.
  Eigen::Array<T, Eigen::Dynamic, 1> m_;
  Eigen::Array<T, Eigen::Dynamic, 1> v_;
};

// Adam with decoupled weight decay (Loshchilov and Hutter, 2019): p ← p (1 − η λ) before
// each Adam step, instead of adding λ p to the gradient. The default λ is PyTorch's.
template <class T>
class AdamW final : public Adam<T> {
 public:
  AdamW(ParameterList<T> parameters, AdamOptions options = {.weight_decay = 1e-2})
      : Adam<T>(std::move(parameters), options, true) {}
};

// A learning rate as a function of progress in epochs (fractional: 2.5 is half-way
// through the third epoch). fit() sets the optimiser's rate from it before every step.
using Schedule = std::function<double(double epoch)>;

// Each checks its rates as Optimizer::set_learning_rate does; fit checks a schedule's rate
// at every step before the first.
Schedule constant_lr(double lr);
// lr · γ^⌊epoch / every⌋
Schedule step_lr(double lr, double every, double gamma);
// A linear warm-up from 0 to lr over `warmup` epochs, then half a cosine from lr down to
// min_lr at `epochs`: min_lr + (lr − min_lr)(1 + cos(π progress)) / 2.
Schedule cosine_lr(double lr, double epochs, double min_lr = 0, double warmup = 0);

extern template class Optimizer<float>;
extern template class Optimizer<double>;
extern template class SGD<float>;
extern template class SGD<double>;
extern template class Adam<float>;
extern template class Adam<double>;

}  // namespace ad::nn
