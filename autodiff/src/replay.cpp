#include <ad/replay.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace ad {

template <class T>
Recording<T>::Recording(Function fn, Inputs inputs, RecordOptions options,
                        std::source_location where)
    : fn_(std::move(fn)),
      tape_(std::make_unique<Tape<T>>()),
      checked_(options.checked),
      where_(where) {
  for (const std::size_t k : options.wrt.value_or(std::vector<std::size_t>{})) {
    if (k >= inputs.size()) {
      throw Error(fmt::format("record (at {}): wrt names input {}, but there are {} inputs",
                              to_string(where), k, inputs.size()));
    }
  }
  inputs_.reserve(inputs.size());
  own_.reserve(inputs.size());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const bool wanted = !options.wrt || std::ranges::count(*options.wrt, k) != 0;
    const Var<T> x = wanted ? tape_->variable(inputs[k], where) : tape_->constant(inputs[k], where);
    inputs_.push_back(x);
    own_.push_back(tape_->nodes_[x.index()].value);
  }
  output_ = fn_(inputs_);
  tape_->check(output_, "record", where);
}

namespace {

[[noreturn, gnu::cold]] void reject_input_shape(const char* op, std::size_t k, Shape recorded,
                                                Shape given, std::source_location where) {
  throw ShapeError(op, recorded, given,
                   fmt::format("input {} was recorded with the first shape; a recording's "
                               "shapes are fixed: record again for other shapes",
                               k),
                   where);
}

// Out of line: Eigen's strided assignment needs a large stack frame that binding by
// reference, the common case, should not set up.
template <class T>
[[gnu::noinline]] void copy_strided(T* destination, const Eigen::Ref<const Matrix<T>>& m) {
  Eigen::Map<Matrix<T>>(destination, m.rows(), m.cols()) = m;
}

}  // namespace

template <class T>
void Recording<T>::bind_one(std::size_t k, const Eigen::Ref<const Matrix<T>>& m, const char* op) {
  detail::Node<T>& n = tape_->nodes_[inputs_[k].index()];
  if (m.rows() != n.rows || m.cols() != n.cols) [[unlikely]] {
    reject_input_shape(op, k, {n.rows, n.cols}, {m.rows(), m.cols()}, where_);
  }
  // A leaf's value is only read, by the rules of the ops that use it.
  if (m.size() != 0 && (m.outerStride() == m.rows() || m.cols() == 1)) [[likely]] {
    n.value = const_cast<T*>(m.data());
  } else {
    copy_strided(n.value, m);
  }
  if (tape_->check_finite()) tape_->require_finite_value(n);
}

template <class T>
template <class List>
void Recording<T>::bind(const List& inputs, const char* op) {
  if (inputs.size() != inputs_.size()) {
    throw Error(fmt::format("{}: the recording (at {}) takes {} inputs, {} were given", op,
                            to_string(where_), inputs_.size(), inputs.size()));
  }
  std::size_t k = 0;
  for (const auto& m : inputs) bind_one(k++, m, op);
}

template <class T>
void Recording<T>::release() noexcept {
  for (std::size_t k = 0; k < inputs_.size(); ++k) {
    tape_->nodes_[inputs_[k].index()].value = own_[k];
  }
}

namespace {

// Where two nodes' values differ first, as "(i, j): a vs b", or empty if bit for bit equal.
template <class T>
std::string first_difference(const detail::Node<T>& a, const detail::Node<T>& b) {
  const auto n = static_cast<std::size_t>(a.rows) * static_cast<std::size_t>(a.cols);
  for (std::size_t e = 0; e < n; ++e) {
    if (std::memcmp(&a.value[e], &b.value[e], sizeof(T)) != 0) {
      return fmt::format("({}, {}): {} recorded vs {} fresh", e % std::size_t(a.rows),
                         e / std::size_t(a.rows), a.value[e], b.value[e]);
    }
  }
  return {};
}

}  // namespace

template <class T>
void Recording<T>::compare_with_fresh_recording() const {
  Tape<T> fresh;
  std::vector<Var<T>> xs;
  for (const Var<T>& x : inputs_) {
    const detail::Node<T>& n = tape_->nodes_[x.index()];
    const Eigen::Map<const Matrix<T>> m(n.value, n.rows, n.cols);
    xs.push_back(n.needs_grad ? fresh.variable(m, where_) : fresh.constant(m, where_));
  }
  const Var<T> y = fn_(xs);
  const std::uint32_t last = output_.index();
  for (std::uint32_t i = 0; i <= last; ++i) {
    const detail::Node<T>& a = tape_->nodes_[i];
    const detail::Origin& at = tape_->origins_[i];
    std::string why;
    if (i >= fresh.nodes_.size()) {
      why = "the fresh recording has no such node";
    } else {
      const detail::Node<T>& b = fresh.nodes_[i];
      const detail::Origin& bt = fresh.origins_[i];
      if (std::strcmp(at.op, bt.op) != 0 || a.rows != b.rows || a.cols != b.cols) {
        why = fmt::format("the fresh recording has '{}' ({}x{}, at {}) there", bt.op, b.rows,
                          b.cols, to_string(bt.where));
      } else if (const std::string d = first_difference(a, b); !d.empty()) {
        why = fmt::format("its values differ at {}", d);
      }
    }
    if (i == last && why.empty() && y.index() != last) {
      why = fmt::format("the fresh recording's output is node {}", y.index());
    }
    if (!why.empty()) {
      throw Error(fmt::format(
          "replay (checked): the recording made at {} differs from a fresh recording at node "
          "{}, '{}' ({}x{}, at {}): {}. The function's graph depends on its inputs' values "
          "(control "
          "flow on a value, or a constant computed from one): record it again for these inputs",
          to_string(where_), i, at.op, a.rows, a.cols, to_string(at.where), why));
    }
  }
}

template <class T>
template <class List>
Eigen::Map<const Matrix<T>> Recording<T>::evaluate(
    const List& inputs, const Eigen::Ref<const Matrix<T>>* seed, bool differentiate, const char* op,
    const std::function<void(std::uint32_t)>* passed) {
  tape_->check(output_, op, where_);
  tape_->check_parameters_unmoved(op);
  struct Release {
    Recording& r;
    ~Release() { r.release(); }
  } release{*this};
  bind(inputs, op);
  tape_->replay_values(output_.index());
  if (checked_) compare_with_fresh_recording();
  if (seed) {
    tape_->backward(output_, *seed, where_);
  } else if (differentiate && passed) {
    tape_->backward_reporting(output_, *passed, where_);
  } else if (differentiate) {
    tape_->backward(output_, where_);
  }
  const detail::Node<T>& out = tape_->nodes_[output_.index()];
  return {out.value, out.rows, out.cols};
}

template <class T>
Eigen::Map<const Matrix<T>> Recording<T>::value(
    std::initializer_list<Eigen::Ref<const Matrix<T>>> inputs) {
  return evaluate(inputs, nullptr, false, "value");
}
template <class T>
Eigen::Map<const Matrix<T>> Recording<T>::value(std::span<const Matrix<T>> inputs) {
  return evaluate(inputs, nullptr, false, "value");
}
template <class T>
Eigen::Map<const Matrix<T>> Recording<T>::gradient(
    std::initializer_list<Eigen::Ref<const Matrix<T>>> inputs) {
  return evaluate(inputs, nullptr, true, "gradient");
}
template <class T>
Eigen::Map<const Matrix<T>> Recording<T>::gradient(std::span<const Matrix<T>> inputs) {
  return evaluate(inputs, nullptr, true, "gradient");
}
template <class T>
Eigen::Map<const Matrix<T>> Recording<T>::gradient(
    std::initializer_list<Eigen::Ref<const Matrix<T>>> inputs,
    const std::function<void(std::uint32_t)>& passed) {
  return evaluate(inputs, nullptr, true, "gradient", passed ? &passed : nullptr);
}
template <class T>
Eigen::Map<const Matrix<T>> Recording<T>::vjp(
    std::initializer_list<Eigen::Ref<const Matrix<T>>> inputs,
    const Eigen::Ref<const Matrix<T>>& seed) {
  return evaluate(inputs, &seed, true, "vjp");
}
template <class T>
Eigen::Map<const Matrix<T>> Recording<T>::vjp(std::span<const Matrix<T>> inputs,
                                              const Eigen::Ref<const Matrix<T>>& seed) {
  return evaluate(inputs, &seed, true, "vjp");
}

template <class T>
Eigen::Map<const Matrix<T>> Recording<T>::grad(std::size_t k) const {
  if (k >= inputs_.size()) {
    throw Error(fmt::format("grad({}): the recording (at {}) has {} inputs", k, to_string(where_),
                            inputs_.size()));
  }
  return inputs_[k].grad();
}

template class Recording<float>;
template class Recording<double>;

}  // namespace ad
