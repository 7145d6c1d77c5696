#pragma once
// Slices of a parameter list's elements flattened in order (each parameter's elements in
// storage order, one parameter after another), as Optimizer::step_slice and the replicas
// that share a step (train_in_threads, mpi::Replicas on one machine) use them.

#include <ad/nn/optim.hpp>

#include <algorithm>
#include <cstddef>
#include <vector>

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

// The elements of a slice start at a multiple of this many elements within their
// parameter (64 bytes of doubles and more of floats), so that each element takes the same
// vectorised or scalar path in a replica's slice of a step as in a whole step.
constexpr Eigen::Index slice_alignment = 16;

// Where each of `parts` nearly equal slices of the n flattened elements starts, and where
// the last ends (parts + 1 bounds).
template <class T>
std::vector<Eigen::Index> slice_bounds(const ParameterList<T>& parameters, Eigen::Index n,
                                       int parts) {
  std::vector<Eigen::Index> bounds{0};
  Eigen::Index offset = 0;  // of parameter i in the flattened order
  std::size_t i = 0;
  for (int k = 1; k < parts; ++k) {
    const Eigen::Index target = n * k / parts;
    while (i < parameters.size() && offset + parameters[i]->size() <= target) {
      offset += parameters[i++]->size();
    }
    const Eigen::Index local = target - offset;
    bounds.push_back(offset + local - local % slice_alignment);
  }
  bounds.push_back(n);
  return bounds;
}

// Calls f(k, at, count) for each run of elements of an optimiser state's arrays that holds
// elements of the slice [begin, end): the run is arrays[k][at, at + count). The arrays, one
// after another, are whole copies of the n flattened elements (Optimizer::State).
template <class T, class F>
void for_each_state_run(const typename Optimizer<T>::State& state, Eigen::Index n,
                        Eigen::Index begin, Eigen::Index end, F f) {
  using Eigen::Index;
  Index at = 0;  // of array k's first element, in the arrays one after another
  for (std::size_t k = 0; k < state.arrays.size(); ++k) {
    const auto size = static_cast<Index>(state.arrays[k].size());
    for (Index j = 0; j < size;) {
      const Index flat = (at + j) % n;
      const Index piece = std::min(size - j, n - flat);
      const Index lo = std::max(flat, begin), hi = std::min(flat + piece, end);
      if (lo < hi) f(k, j + lo - flat, hi - lo);
      j += piece;
    }
    at += size;
  }
}

// out[0, n) = the sum of `terms` terms in order, a block at a time on the stack: a step
// allocates nothing, and out may hold one of the terms (each block is summed before it is
// written). add_term(r, start, sum) adds elements [start, start + sum.size()) of term r into
// sum.
template <class T, class AddTerm>
void sum_in_blocks(T* out, Eigen::Index n, std::size_t terms, AddTerm add_term) {
  constexpr Eigen::Index block = 1024;
  Eigen::Array<T, block, 1> total;
  for (Eigen::Index start = 0; start < n; start += block) {
    auto sum = total.head(std::min(block, n - start));
    sum.setZero();
    for (std::size_t r = 0; r < terms; ++r) add_term(r, start, sum);
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(out + start, sum.size()) = sum;
  }
}

}  // namespace ad::nn::detail
