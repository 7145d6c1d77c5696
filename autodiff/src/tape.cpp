#include <ad/tape.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <new>
#ifdef AD_DEBUG_CHECKS
#include <mutex>
#include <unordered_set>
#endif

namespace ad {
namespace detail {

std::uint64_t next_generation() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

#ifdef AD_DEBUG_CHECKS
namespace {

struct Registry {
  std::mutex mutex;
  std::unordered_set<const void*> tapes;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_tape(const void* tape) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  r.tapes.insert(tape);
}

void unregister_tape(const void* tape) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  r.tapes.erase(tape);
}

bool tape_is_live(const void* tape) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  return r.tapes.count(tape) != 0;
}

std::mutex& parameters_mutex() {
  static std::mutex m;
  return m;
}
#endif

void Arena::Block::Free::operator()(std::byte* p) const {
  ::operator delete (p, std::align_val_t{line});
}

void Arena::reject_size(std::size_t count, std::size_t size) {
  throw Error(
      fmt::format("the tape cannot hold {} elements of {} bytes: the size exceeds any "
                  "memory (2^56 bytes at most)",
                  count, size));
}

std::byte* Arena::allocate_in_next_block(std::size_t bytes) {
  while (in_use_ < blocks_.size()) {
    Block& b = blocks_[in_use_++];
    if (b.bytes >= bytes) {
      cursor_ = b.data.get() + bytes;
      limit_ = b.data.get() + b.bytes;
      return b.data.get();
    }
  }
  // Blocks grow geometrically, so a recording needs few of them.
  constexpr std::size_t first_block = std::size_t{1} << 16;
  const std::size_t size =
      std::max({bytes, first_block, blocks_.empty() ? 0 : 2 * blocks_.back().bytes});
  auto* data = static_cast<std::byte*>(::operator new (size, std::align_val_t{line}));
  blocks_.push_back(Block{std::unique_ptr<std::byte[], typename Block::Free>(data), size});
  in_use_ = blocks_.size();
  cursor_ = data + bytes;
  limit_ = data + size;
  return data;
}

std::size_t Arena::bytes() const {
  std::size_t total = 0;
  for (const Block& b : blocks_) total += b.bytes;
  return total;
}

}  // namespace detail

template <class T>
const char* Var<T>::op() const {
  const Tape<T>& t = tape();
  return t.origin(t.node(*this)).op;
}

template <class T>
Var<T> Var<T>::named(std::string_view name) const {
  Tape<T>& t = tape();
  t.node(*this);  // a live handle
  auto& names = t.names_;
  const auto same = [&](const auto& entry) { return entry.first == index_; };
  if (auto it = std::find_if(names.begin(), names.end(), same); it != names.end()) {
    it->second = name;
  } else {
    names.emplace_back(index_, name);
  }
  return *this;
}

template <class T>
std::string_view Var<T>::name() const {
  const Tape<T>& t = tape();
  t.node(*this);
  for (const auto& [index, name] : t.names_) {
    if (index == index_) return name;
  }
  return {};
}

template <class T>
Eigen::Map<const Matrix<T>> Var<T>::value() const {
  const auto& n = tape().node(*this);
  return {n.value, n.rows, n.cols};
}

template <class T>
Eigen::Map<const Matrix<T>> Var<T>::grad() const {
  const auto& n = tape().node(*this);
  if (!n.adjoint) {
    throw Error(fmt::format(
        "grad() of a '{}' node that depends on no variable or parameter: it has no gradient",
        tape_->origin(n).op));
  }
  if (!n.owns_adjoint) {
    // A parameter's adjoint is its gradient, which may have been zeroed since the last sweep.
    const Matrix<T>& g = tape_->parameter_of(index_).grad();
    return {g.data(), g.rows(), g.cols()};
  }
  // Zeroed if no sweep wrote it, but not marked written: only a sweep marks adjoints, so
  // that the next sweep knows which to reset (Tape::swept_).
  Eigen::Map<Matrix<T>> adjoint(n.adjoint, n.rows, n.cols);
  if (!n.has_adjoint) adjoint.setZero();
  return {adjoint.data(), adjoint.rows(), adjoint.cols()};
}

template <class T>
int Var<T>::arity() const {
  return static_cast<int>(tape().node(*this).arity);
}

template <class T>
Var<T> Var<T>::input(int i) const {
  const auto& n = tape().node(*this);
  if (i < 0 || i >= static_cast<int>(n.arity)) {
    throw Error(fmt::format("input({}) of a '{}' node, which has {} inputs", i, tape_->origin(n).op,
                            n.arity));
  }
  return Var(tape_, tape_->input_index(n, static_cast<std::uint32_t>(i)), generation_);
}

namespace {

// The first non-finite element of m, as "(i, j) = nan", or empty if all are finite.
template <class M>
std::string first_non_finite(const M& m) {
  // An empty matrix may still have 2^31 − 1 columns for allFinite to walk.
  if (m.size() == 0 || m.allFinite()) return {};
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      using std::isfinite;
      if (!isfinite(m(i, j))) return fmt::format("({}, {}) = {}", i, j, m(i, j));
    }
  }
  return {};
}

}  // namespace

template <class T>
std::string Tape<T>::describe(const detail::Node<T>& n) const {
  std::string inputs;
  for (std::uint32_t k = 0; k < n.arity; ++k) {
    const detail::Node<T>& in = nodes_[input_index(n, k)];
    inputs += fmt::format("{}{}x{}", k ? ", " : "", in.rows, in.cols);
  }
  const detail::Origin& o = origin(n);
  return fmt::format("'{}' ({}x{}, inputs [{}], at {})", o.op, n.rows, n.cols, inputs,
                     to_string(o.where));
}

template <class T>
void Tape<T>::require_finite(const Var<T>& v) const {
  require_finite_value(node(v));
}

template <class T>
void Tape<T>::require_finite_value(const detail::Node<T>& n) const {
  const std::string bad = first_non_finite(Eigen::Map<const Matrix<T>>(n.value, n.rows, n.cols));
  if (!bad.empty()) {
    throw NumericError(fmt::format("non-finite value: {} computed {}", describe(n), bad));
  }
}

template <class T>
void Tape<T>::require_finite_adjoints(const detail::Node<T>& n) const {
  for (std::uint32_t k = 0; k < n.arity; ++k) {
    const detail::Node<T>& in = nodes_[input_index(n, k)];
    if (!in.needs_grad || !in.has_adjoint) continue;
    const std::string bad =
        first_non_finite(Eigen::Map<const Matrix<T>>(in.adjoint, in.rows, in.cols));
    if (!bad.empty()) {
      throw NumericError(fmt::format(
          "non-finite adjoint: the rule of {} wrote input {}'s adjoint {}", describe(n), k, bad));
    }
  }
}

namespace detail {
void throw_empty_var() { throw Error("an empty (default-constructed) ad::Var was used"); }
void throw_dead_tape() { throw Error("an ad::Var was used after its Tape was destroyed"); }
}  // namespace detail

template <class T>
Tape<T>::Tape() {
#ifdef AD_DEBUG_CHECKS
  detail::register_tape(this);
#endif
}

template <class T>
Tape<T>::~Tape() {
#ifdef AD_DEBUG_CHECKS
  forget_parameters();
  detail::unregister_tape(this);
#endif
}

#ifdef AD_DEBUG_CHECKS
template <class T>
void Tape<T>::forget_parameters() {
  const std::lock_guard lock(detail::parameters_mutex());
  for (const auto& [index, p] : parameters_) std::erase(p->recorded_by_, this);
}
#endif

template <class T>
void Tape<T>::lose_parameter(const Parameter<T>* p) {
  std::erase_if(parameters_, [p](const auto& entry) { return entry.second == p; });
  lost_parameter_ = true;
  generation_ = detail::next_generation();  // every handle of this recording is refused
}

#ifdef AD_DEBUG_CHECKS
template <class T>
Parameter<T>::~Parameter() {
  const std::lock_guard lock(detail::parameters_mutex());
  for (void* tape : recorded_by_) static_cast<Tape<T>*>(tape)->lose_parameter(this);
}
#endif

template <class T>
void Tape<T>::reject(const Var<T>& v, const char* op, std::source_location where) const {
  const std::string at = where.line() ? fmt::format(" (at {})", to_string(where)) : "";
  if (!v.tape_)
    throw Error(fmt::format("{}: an empty (default-constructed) Var was used{}", op, at));
  if (v.tape_ != this) throw Error(fmt::format("{}: the Var belongs to another tape{}", op, at));
  if (lost_parameter_) {
    throw Error(fmt::format(
        "{}: a Parameter this tape recorded was destroyed before tape.clear(); clear the tape "
        "and record again{}",
        op, at));
  }
  throw Error(fmt::format(
      "{}: the Var was recorded before tape.clear() rewound the tape; record it again{}", op, at));
}

namespace {

// Copies a matrix with strided columns into contiguous storage. Out of line: Eigen's
// strided assignment needs a large stack frame, which the common contiguous copy should
// not set up.
template <class T>
[[gnu::noinline]] void copy_strided(T* destination, const Eigen::Ref<const Matrix<T>>& m) {
  Eigen::Map<Matrix<T>>(destination, m.rows(), m.cols()) = m;
}

// Copies a matrix into arena storage. Small leaves are recorded often: a handful of
// contiguous elements are copied one by one (cheaper than a call to memcpy), more in one
// memory copy.
template <class T>
void copy_into(T* destination, const Eigen::Ref<const Matrix<T>>& m) {
  if (m.outerStride() != m.rows()) {
    copy_strided(destination, m);
  } else if (m.size() <= 4) {
    // Written out, not a loop, which GCC vectorised behind run-time overlap checks.
    const T* source = m.data();
    switch (m.size()) {
      case 4:
        destination[3] = source[3];
        [[fallthrough]];
      case 3:
        destination[2] = source[2];
        [[fallthrough]];
      case 2:
        destination[1] = source[1];
        [[fallthrough]];
      case 1:
        destination[0] = source[0];
    }
  } else {
    std::copy_n(m.data(), m.size(), destination);
  }
}

}  // namespace

// A leaf has no inputs and no rule, so it skips the general append: for a 2x2 leaf the
// general path cost as much again as the copy.
template <class T>
Var<T> Tape<T>::leaf(const char* op, const Eigen::Ref<const Matrix<T>>& value, bool needs_grad,
                     std::source_location where) {
  check_shape(op, {value.rows(), value.cols()}, where);
  const auto size = static_cast<std::size_t>(value.size());
  T* storage = arena_.allocate<T>(size);
  T* adjoint = needs_grad ? arena_.allocate<T>(size) : nullptr;
  detail::Node<T>& n = nodes_.emplace_back();
  origins_.push_back({op, where});
  n.value = storage;
  n.adjoint = adjoint;
  n.rows = static_cast<std::int32_t>(value.rows());
  n.cols = static_cast<std::int32_t>(value.cols());
  n.needs_grad = needs_grad;
  copy_into(n.value, value);
  if (check_finite_) require_finite_value(n);
  return Var<T>(this, static_cast<std::uint32_t>(nodes_.size() - 1), generation_);
}

template <class T>
Var<T> Tape<T>::parameter(Parameter<T>& p, std::source_location where) {
  const Matrix<T>& grad = p.grad_;  // not p.grad(), which would write a zeroed gradient's zeros
  if (grad.rows() != p.rows() || grad.cols() != p.cols()) {
    throw ShapeError("parameter", Shape{p.rows(), p.cols()}, Shape{grad.rows(), grad.cols()},
                     "the parameter's value was resized but its gradient was not", where);
  }
  check_shape("parameter", {p.rows(), p.cols()}, where);
  // One node per parameter: two would both assign their first contribution to its gradient.
  for (const auto& [index, recorded] : parameters_) {
    if (recorded != &p) continue;
    const detail::Node<T>& n = nodes_[index];
    if (!describes(n, p)) {
      throw ShapeError("parameter", Shape{n.rows, n.cols}, Shape{p.rows(), p.cols()},
                       "the parameter was resized since this tape recorded it; clear the tape "
                       "before recording it again",
                       where);
    }
    return Var<T>(this, index, generation_);
  }
  detail::Node<T> n;
  n.rows = static_cast<std::int32_t>(p.rows());
  n.cols = static_cast<std::int32_t>(p.cols());
  // An empty parameter's matrices hold no storage (null): its node takes a place of its own,
  // as an empty leaf does, since a null adjoint would read as "needs no gradient".
  const bool empty = p.size() == 0;
  n.value = empty ? arena_.allocate<T>(0) : p.value().data();
  n.adjoint = empty ? arena_.allocate<T>(0) : p.grad_.data();
  n.needs_grad = true;
  n.owns_adjoint = false;  // has_adjoint is set by each sweep, from p.grad_is_zero_
  nodes_.push_back(n);
  origins_.push_back({"parameter", where});
  const auto index = static_cast<std::uint32_t>(nodes_.size() - 1);
  parameters_.emplace_back(index, &p);
#ifdef AD_DEBUG_CHECKS
  {
    const std::lock_guard lock(detail::parameters_mutex());
    p.recorded_by_.push_back(this);
  }
#endif
  if (check_finite_) require_finite_value(nodes_.back());
  return Var<T>(this, index, generation_);
}

template <class T>
const Parameter<T>& Tape<T>::parameter_of(std::uint32_t index) const {
  for (const auto& [recorded, p] : parameters_) {
    if (recorded == index) return *p;
  }
  throw Error(fmt::format("node {} is not a parameter of this tape", index));
}

template <class T>
void Tape<T>::reject_shape(const char* op, Shape shape, std::source_location where) {
  throw ShapeError(op, shape, "each dimension must lie in [0, 2^31)", where);
}

template <class T>
void Tape<T>::pop_newest() {
  const detail::Node<T>& n = nodes_.back();
  if (n.arity > detail::Node<T>::inline_inputs) wide_inputs_.resize(n.wide);
  const auto index = static_cast<std::uint32_t>(nodes_.size() - 1);
  while (!rule_allocations_.empty() && rule_allocations_.back().node == index) {
    rule_allocations_.pop_back();
  }
  nodes_.pop_back();
  origins_.pop_back();
}

template <class T>
void* Tape<T>::replayed_allocation(std::uint32_t node, std::size_t bytes) {
  if (replayed_ == rule_allocations_.size() || rule_allocations_[replayed_].node != node ||
      rule_allocations_[replayed_].bytes != bytes) {
    const detail::Origin& o = origins_[node];
    throw Error(fmt::format(
        "replay: the value rule of '{}' (recorded at {}) asked for {} bytes of tape memory that "
        "it did not ask for when recorded; a value rule must allocate the same sizes each time",
        o.op, to_string(o.where), bytes));
  }
  return rule_allocations_[replayed_++].data;
}

template <class T>
bool Tape<T>::describes(const detail::Node<T>& n, const Parameter<T>& p) {
  const bool moved = p.size() != 0 && (n.value != p.value().data() || n.adjoint != p.grad_.data());
  return !moved && n.rows == p.rows() && n.cols == p.cols();
}

template <class T>
void Tape<T>::check_parameters_unmoved(const char* op) const {
  for (const auto& [index, p] : parameters_) {
    const detail::Node<T>& n = nodes_[index];
    if (!describes(n, *p)) {
      throw ShapeError(op, Shape{n.rows, n.cols}, Shape{p->rows(), p->cols()},
                       "a parameter the recording reads was resized or its storage replaced "
                       "since it was recorded; record again",
                       origins_[index].where);
    }
  }
}

template <class T>
void Tape<T>::replay_values(std::uint32_t last) {
  struct Restore {
    Tape& tape;
    ~Restore() { tape.phase_ = Phase::recording; }
  } restore{*this};
  phase_ = Phase::replaying;
  replayed_ = 0;
  for (std::uint32_t i = 0; i <= last; ++i) {
    const detail::Node<T>& n = nodes_[i];
    if (!n.rules) continue;  // a leaf: its value is bound, not computed
    n.rules->value(*this, i);
    if (check_finite_) require_finite_value(n);
  }
}

template <class T>
void Tape<T>::reject_adjoint(const detail::Node<T>& n) const {
  throw Error(fmt::format("an adjoint rule wrote into the adjoint of a '{}' node that needs none",
                          origin(n).op));
}

template <class T>
void Tape<T>::backward(const Var<T>& output, std::source_location where) {
  check(output, "backward", where);
  const detail::Node<T>& out = nodes_[output.index_];
  if (out.rows != 1 || out.cols != 1) {
    throw ShapeError("backward", {out.rows, out.cols},
                     "backward(y) needs a 1x1 output; pass a seed of the output's shape for a "
                     "vector-Jacobian product",
                     where);
  }
  const T one = 1;
  sweep(output, Eigen::Map<const Matrix<T>>(&one, 1, 1), where);
}

template <class T>
void Tape<T>::backward(const Var<T>& output, const Eigen::Ref<const Matrix<T>>& seed,
                       std::source_location where) {
  check(output, "backward", where);
  sweep(output, seed, where);
}

template <class T>
void Tape<T>::backward_reporting(const Var<T>& output,
                                 const std::function<void(std::uint32_t)>& passed,
                                 std::source_location where) {
  check(output, "backward", where);
  const detail::Node<T>& out = nodes_[output.index_];
  if (out.rows != 1 || out.cols != 1) {
    throw ShapeError("backward", {out.rows, out.cols}, "backward(y) needs a 1x1 output", where);
  }
  const T one = 1;
  sweep(output, Eigen::Map<const Matrix<T>>(&one, 1, 1), where, &passed);
}

template <class T>
void Tape<T>::mark_gradients_written() {
  for (const auto& [index, p] : parameters_) {
    if (nodes_[index].has_adjoint) p->grad_is_zero_ = false;
  }
}

template <class T>
std::uint32_t Tape<T>::first_use(const Parameter<T>& p) const {
  const auto recorded = std::find_if(parameters_.begin(), parameters_.end(),
                                     [&p](const auto& entry) { return entry.second == &p; });
  if (recorded == parameters_.end()) {
    throw Error(fmt::format("first_use: the parameter '{}' ({}x{}) is not recorded on this tape",
                            p.name(), p.rows(), p.cols()));
  }
  const std::uint32_t index = recorded->first;
  for (auto i = static_cast<std::uint32_t>(index + 1); i < nodes_.size(); ++i) {
    const detail::Node<T>& n = nodes_[i];
    for (std::uint32_t k = 0; k < n.arity; ++k) {
      if (input_index(n, k) == index) return i;
    }
  }
  return index;
}

template <class T>
void Tape<T>::sweep(const Var<T>& output, const Eigen::Ref<const Matrix<T>>& seed,
                    std::source_location where, const std::function<void(std::uint32_t)>* passed) {
  const detail::Node<T>& out = nodes_[output.index_];
  if (seed.rows() != out.rows || seed.cols() != out.cols) {
    throw ShapeError("backward", {out.rows, out.cols}, {seed.rows(), seed.cols()},
                     "the seed must have the output's shape", where);
  }
  for (std::uint32_t i = 0; i < swept_; ++i) {
    if (nodes_[i].owns_adjoint) nodes_[i].has_adjoint = false;
  }
  // A zeroed parameter's gradient is assigned by its first contribution. Whatever the sweep
  // writes into a parameter's gradient counts as written, even if a later rule throws.
  for (const auto& [index, p] : parameters_) nodes_[index].has_adjoint = !p->grad_is_zero_;
  struct MarkWritten {
    Tape& tape;
    ~MarkWritten() { tape.mark_gradients_written(); }
  } mark_written{*this};
  // passed(i) may read any parameter's gradient: each one the sweep has written is marked
  // written first, so that grad() does not take it for zero.
  const auto pass = [&](std::uint32_t i) {
    mark_gradients_written();
    (*passed)(i);
  };
  swept_ = output.index_ + 1;  // a sweep writes no adjoint of a later node
  rules_run_ = 0;
  struct Sweeping {
    Tape& tape;
    Phase before = tape.phase_;
    ~Sweeping() { tape.phase_ = before; }
  } sweeping{*this};
  phase_ = Phase::sweeping;
  if (check_finite_ && !seed.allFinite()) {
    throw NumericError(
        fmt::format("backward (at {}): the seed holds NaN or Inf", to_string(where)));
  }
  if (!out.needs_grad) return;
  auto [ybar, written] = adjoint_slot(output.index_);
  if (written) {
    ybar += seed;
  } else if (seed.size() == 1) {
    ybar(0, 0) = seed(0, 0);  // the common 1x1 seed, without Eigen's general assignment
  } else {
    ybar = seed;
  }
  // Newest to oldest: a node's adjoint is complete once every later node has run.
  // Nodes whose adjoint nothing wrote do not lead to the output and are skipped.
  std::size_t rules_run = 0;  // counted here, stored once: the rule calls made it a store per node
  for (std::uint32_t i = output.index_ + 1; i-- > 0;) {
    const detail::Node<T>& n = nodes_[i];
    if (!n.rules || !n.has_adjoint) {
      if (passed) pass(i);
      continue;
    }
#ifdef AD_DEBUG_CHECKS
    try {
      n.rules->adjoint(*this, i);
    } catch (const Error& e) {
      throw Error(fmt::format("the adjoint rule of '{}' ({}x{}, recorded at {}) failed: {}",
                              origin(n).op, n.rows, n.cols, to_string(origin(n).where), e.what()));
    }
#else
    n.rules->adjoint(*this, i);
#endif
    if (check_finite_) require_finite_adjoints(n);
    ++rules_run;
    if (passed) pass(i);
  }
  rules_run_ = rules_run;
}

template <class T>
void Tape<T>::forget_names() {
  names_.clear();
}

template <class T>
void Tape<T>::clear() {
  nodes_.clear();
  origins_.clear();
  wide_inputs_.clear();
  if (!names_.empty()) [[unlikely]] {
    forget_names();
  }
  rule_allocations_.clear();
  arena_.rewind();
  swept_ = 0;
  lost_parameter_ = false;
#ifdef AD_DEBUG_CHECKS
  forget_parameters();
#endif
  parameters_.clear();
  generation_ = detail::next_generation();
}

template class Var<float>;
template class Var<double>;
template class Tape<float>;
template class Tape<double>;
template class Var<Dual<double>>;
template class Tape<Dual<double>>;
#ifdef AD_DEBUG_CHECKS
template class Parameter<float>;
template class Parameter<double>;
template class Parameter<Dual<double>>;
#endif

}  // namespace ad
