#pragma once
// Slices of a parameter list's elements flattened in order (each parameter's elements in
// storage order, one parameter after another), as Optimizer::step_slice and the replicas
// of train_in_threads share a step.

#include <ad/nn/optim.hpp>

#include <algorithm>
#include <cstddef>

namespace ad::nn::detail {

// Calls f(i, offset, from, to) for each parameter i that the slice [begin, end) covers:
// offset is where parameter i starts in the flattened order, [from, to) the part of its
// own elements that the slice covers (never empty).
template <class T, class F>
void for_each_in_slice(const ParameterList<T>& parameters, Eigen::Index begin, Eigen::Index end,
                       F f) {
  Eigen::Index offset = 0;
  for (std::size_t i = 0; i < parameters.size() && offset < end; ++i) {
    const Eigen::Index size = parameters[i]->size();
    const Eigen::Index from = std::clamp(begin - offset, Eigen::Index(0), size);
    const Eigen::Index to = std::clamp(end - offset, from, size);
    if (from < to) f(i, offset, from, to);
    offset += size;
  }
}

}  // namespace ad::nn::detail
