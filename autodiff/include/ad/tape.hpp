#pragma once
// The tape: an ordered record of matrix operations, each node holding its value, its
// adjoint and the rule that sends the adjoint to its inputs.
//
//   record:   an op checks shapes, takes value and adjoint storage from the tape's arena,
//             computes its value with Eigen and appends a node;
//   backward: seeds the output's adjoint and visits nodes newest to oldest; each node
//             that leads to the output adds its contribution into its inputs' adjoints;
//   clear:    rewinds the tape and keeps the arena's blocks, so recording the same
//             computation again allocates nothing.
//
// One tape belongs to one thread at a time; tapes share nothing.

#include <ad/config.hpp>
#include <ad/dual.hpp>
#include <ad/error.hpp>
#include <ad/parameter.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <source_location>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ad {

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

template <class T>
class Tape;
template <class T, class Saved = void>
class Rule;
template <class T>
class Recording;
template <class T>
class Expr;
template <class T, class Saved = void>
class Symbolic;

namespace detail {
template <class T>
struct OpAccess;
template <class T>
struct ExplainAccess;
}  // namespace detail

// An op's rules: the value rule computes the node's value from its inputs' (run when
// recorded, and again when a recording is evaluated again, see <ad/replay.hpp>); the adjoint
// rule adds the node's contribution into its inputs' adjoints; the symbolic rule states that
// contribution as a matrix expression, for ad::explain (<ad/symbolic.hpp>; null for a custom
// op that gives none). The sweeps call only the first two, with the node's tape and index
// (each rule makes its Rule view of the node from them). One static record per op and
// scalar type, so that a node holds a single pointer to it.
template <class T>
struct OpRules {
  void (*value)(Tape<T>& tape, std::uint32_t node);
  void (*adjoint)(Tape<T>& tape, std::uint32_t node);
  Expr<T> (*symbolic)(const Symbolic<T>&, int input);
};

// An operand together with the caller's source line. An operator cannot take a default
// std::source_location argument, but the implicit conversion to At<X> happens at the
// caller's expression, so its default argument records the caller's line.
template <class X>
struct At {
  At(X operand, std::source_location caller = std::source_location::current())
      : x(operand), where(caller) {}
  // A plain number where the tape's scalar is another type: 2 * x on a tape of
  // ad::Dual<double> (two conversions in a row, int to Dual to At, are not implicit).
  template <class U>
  requires(std::is_arithmetic_v<U> && !std::is_same_v<U, X> && std::is_constructible_v<X, U>)
      At(U operand, std::source_location caller = std::source_location::current())
      : x(operand), where(caller) {}
  X x;
  std::source_location where;
};

// A handle to a node on a tape. Cheap to copy; valid until the tape is cleared.
//
// Operators: `*` is the matrix product or a scalar times a matrix; `+` and `-` broadcast
// as in NumPy (a dimension of 1 stretches). The elementwise product is hadamard(a, b).
template <class T>
class Var {
 public:
  Var() = default;

  Eigen::Map<const Matrix<T>> value() const;
  // The adjoint from the latest backward sweep: d output / d this, shaped like value().
  // Zero if this node does not lead to the output; an ad::Error if it depends on no
  // variable or parameter (a constant has no gradient).
  Eigen::Map<const Matrix<T>> grad() const;

  Eigen::Index rows() const { return shape().rows; }
  Eigen::Index cols() const { return shape().cols; }
  Shape shape() const;
  // The op that made this node ("matmul", "variable", ...).
  const char* op() const;
  // Gives this node a name for ad::explain and ad::to_dot (kept in a side table of the tape,
  // so an unnamed node costs nothing); returns the same handle.
  Var named(std::string_view name) const;
  // The name given to this node (by named() or when recording a leaf); empty if none.
  std::string_view name() const;

  // The tape this node is on; an ad::Error for a default-constructed Var.
  Tape<T>& tape() const;
  bool empty() const { return tape_ == nullptr; }
  std::uint32_t index() const { return index_; }

  friend Var operator*(const Var& a, At<Var> b) { return matmul(a, b.x, b.where); }
  friend Var operator*(At<T> s, const Var& a) { return affine(a, s.x, T(0), s.where); }
  friend Var operator*(const Var& a, At<T> s) { return affine(a, s.x, T(0), s.where); }
  friend Var operator+(const Var& a, At<Var> b) { return add(a, b.x, b.where); }
  friend Var operator+(const Var& a, At<T> s) { return affine(a, T(1), s.x, s.where); }
  friend Var operator+(At<T> s, const Var& a) { return affine(a, T(1), s.x, s.where); }
  friend Var operator-(const Var& a, At<Var> b) { return subtract(a, b.x, b.where); }
  friend Var operator-(const Var& a, At<T> s) { return affine(a, T(1), -s.x, s.where); }
  friend Var operator-(At<T> s, const Var& a) { return affine(a, T(-1), s.x, s.where); }
  friend Var operator-(At<Var> a) { return affine(a.x, T(-1), T(0), a.where); }
  friend Var operator/(const Var& a, At<Var> b) { return divide(a, b.x, b.where); }
  friend Var operator/(const Var& a, At<T> s) { return affine(a, T(1) / s.x, T(0), s.where); }
  friend Var operator/(At<T> s, const Var& a) {
    return affine(pow(a, T(-1), s.where), s.x, T(0), s.where);
  }

  // The inputs of the op that made this node, for printing an expression.
  int arity() const;
  Var input(int i) const;

 private:
  friend class Tape<T>;
  Var(Tape<T>* tape, std::uint32_t index, std::uint64_t generation)
      : tape_(tape), index_(index), generation_(generation) {}

  Tape<T>* tape_ = nullptr;
  std::uint32_t index_ = 0;
  std::uint64_t generation_ = 0;  // the tape's recording this handle belongs to
};

namespace detail {

// A number never handed out before in this process: each recording of each tape gets one, so
// a handle from before a clear() or from another tape never matches (a 64-bit count cannot
// wrap).
std::uint64_t next_generation();

#ifdef AD_DEBUG_CHECKS
// Debug builds keep a registry of live tapes and of the parameters each records, so that a
// handle to a destroyed tape, or a tape whose parameter was destroyed, is an ad::Error instead
// of a use after free. Release builds leave these as documented preconditions.
void register_tape(const void* tape);
void unregister_tape(const void* tape);
bool tape_is_live(const void* tape);
#endif

// Storage for node values, adjoints and ops' saved state: a list of blocks handed out front
// to back. Allocations of a cache line or more start on a cache line, for vectorised kernels;
// smaller ones are packed at 16-byte steps, so that a chain of 2x2 ops touches a quarter of
// the memory. Rewinding returns to the first block and keeps them all, so the same sequence
// of allocations reuses the same memory.
class Arena {
 public:
  static constexpr std::size_t line = 64;
  static constexpr std::size_t step = 16;

  // Storage for count objects of type U, uninitialised. An ad::Error when the byte count
  // does not fit in memory's address range (checked before any arithmetic can wrap).
  template <class U>
  U* allocate(std::size_t count) {
    static_assert(alignof(U) <= step && std::is_trivially_destructible_v<U>,
                  "the arena holds trivially destructible objects of alignment <= 16");
    if (count > max_bytes / sizeof(U)) [[unlikely]] {
      reject_size(count, sizeof(U));
    }
    // Every size is a multiple of the step, so the cursor is always step-aligned. An empty
    // matrix takes a step too: a null pointer would read as "no storage".
    const std::size_t bytes = std::max((count * sizeof(U) + step - 1) / step * step, step);
    std::uintptr_t start = std::uintptr_t(cursor_);
    if (bytes >= line) start = (start + line - 1) & ~std::uintptr_t(line - 1);
    if (start + bytes <= std::uintptr_t(limit_)) {
      cursor_ = reinterpret_cast<std::byte*>(start + bytes);
      return reinterpret_cast<U*>(start);
    }
    return reinterpret_cast<U*>(allocate_in_next_block(bytes));
  }
  // Back to the start of the first block (a tape recorded again takes its first allocation
  // there without a call).
  void rewind() {
    if (blocks_.empty()) return;
    in_use_ = 1;
    cursor_ = blocks_.front().data.get();
    limit_ = cursor_ + blocks_.front().bytes;
  }
  std::size_t bytes() const;  // held, used or not

 private:
  // Far above any allocation that can succeed, far below where start + bytes could wrap.
  static constexpr std::size_t max_bytes = std::size_t{1} << 56;

  std::byte* allocate_in_next_block(std::size_t bytes);
  [[noreturn]] static void reject_size(std::size_t count, std::size_t size);

  struct Block {
    struct Free {
      void operator()(std::byte* p) const;
    };
    std::unique_ptr<std::byte[], Free> data;
    std::size_t bytes = 0;
  };
  std::vector<Block> blocks_;
  std::size_t in_use_ = 0;       // blocks up to and including the current one
  std::byte* cursor_ = nullptr;  // free space in the current block: [cursor_, limit_)
  std::byte* limit_ = nullptr;
};

// A node's adjoint as a rule writes it. Not `written` yet in this sweep, its memory holds
// stale numbers: the rule assigns instead of adding, which saves a pass of zeros.
template <class T>
struct AdjointSlot {
  Eigen::Map<Matrix<T>> map;
  bool written;
};

// What a sweep reads of a node, in one cache line: a node that straddled two lines cost
// every 2x2 op a split store when recorded (about 15 % of the chain's time). What only
// messages read (the op's name, the caller's line) is kept beside it, in an Origin.
//
// Inputs: the first three indices are held here; an op with more keeps the rest in the
// tape's list of wide inputs, from position `wide` on. An op reading input 0, 1 or 2 (a
// number known when it is compiled) reads the node alone.
template <class T>
struct alignas(64) Node {
  static constexpr std::uint32_t inline_inputs = 3;
  const OpRules<T>* rules = nullptr;  // null for leaves
  T* value = nullptr;
  T* adjoint = nullptr;
  void* saved = nullptr;  // the op's saved state (its Op::Saved), in the tape's arena
  std::int32_t rows = 0;
  std::int32_t cols = 0;
  std::array<std::uint32_t, inline_inputs> inputs{};
  std::uint32_t arity = 0;
  std::uint32_t wide = 0;
  bool needs_grad = false;   // some leaf below it is a variable or a parameter
  bool has_adjoint = false;  // adjoint written in the current sweep (else it reads as 0)
  bool owns_adjoint = true;  // false for a parameter: its adjoint is the parameter's gradient
};
static_assert(sizeof(Node<double>) == 64 && sizeof(Node<float>) == 64);

struct Origin {
  const char* op;  // the op's name ("matmul", "variable", ...)
  std::source_location where;
};

// What an op records besides its inputs: its name, output shape, rules and saved state (the
// op's Saved object in the tape's arena, or null).
template <class T>
struct OpRecord {
  const char* name;
  Shape shape;
  const OpRules<T>* rules;
  void* saved = nullptr;
};

// An allocation a value rule made from the tape (Rule::save, Rule::allocate), in recording
// order: evaluating the recording again hands each rule the same memory.
struct RuleAllocation {
  std::uint32_t node;
  void* data;
  std::size_t bytes;
};

}  // namespace detail

// An op's inputs, referred to rather than copied: copying a handle the caller has just
// stored made the CPU wait for the store (a third of the time of recording a 2x2 product).
template <class T>
using InputList = std::initializer_list<std::reference_wrapper<const Var<T>>>;

// A matrix an op keeps on the tape for its adjoint (see Rule::save). A plain record, so
// that it can sit in an op's Saved state; valid until the tape is cleared.
template <class T>
struct SavedMatrix {
  T* data = nullptr;
  Eigen::Index rows = 0;
  Eigen::Index cols = 0;
  Eigen::Map<Matrix<T>> map() const { return {data, rows, cols}; }
};

template <class T>
class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // A leaf that receives a gradient; its value is copied onto the tape.
  Var<T> variable(const Eigen::Ref<const Matrix<T>>& value,
                  std::source_location where = std::source_location::current()) {
    return leaf("variable", value, true, where);
  }
  // A leaf that receives no gradient.
  Var<T> constant(const Eigen::Ref<const Matrix<T>>& value,
                  std::source_location where = std::source_location::current()) {
    return leaf("constant", value, false, where);
  }
  // The same leaves with a name for ad::explain and ad::to_dot (Var::named).
  Var<T> variable(const Eigen::Ref<const Matrix<T>>& value, std::string_view name,
                  std::source_location where = std::source_location::current()) {
    return leaf("variable", value, true, where).named(name);
  }
  Var<T> constant(const Eigen::Ref<const Matrix<T>>& value, std::string_view name,
                  std::source_location where = std::source_location::current()) {
    return leaf("constant", value, false, where).named(name);
  }
  // A leaf that refers to the parameter's value (no copy); backward adds into p.grad().
  // Recording p again on the same tape returns the same node.
  Var<T> parameter(Parameter<T>& p, std::source_location where = std::source_location::current());
  Var<T> parameter(Parameter<T>& p, std::string_view name,
                   std::source_location where = std::source_location::current()) {
    return parameter(p, where).named(name);
  }

  // Reverse sweep from a 1x1 output (seed 1), or from any output with a seed of its shape
  // (a vector-Jacobian product). Each sweep starts from zero adjoints on the tape, so
  // Var::grad() is the gradient of the latest sweep; parameters' gradients accumulate
  // over sweeps until Parameter::zero_grad().
  void backward(const Var<T>& output, std::source_location where = std::source_location::current());
  void backward(const Var<T>& output, const Eigen::Ref<const Matrix<T>>& seed,
                std::source_location where = std::source_location::current());
  // backward(output) that calls passed(i) as the sweep goes past node i, for each i from
  // output.index() down to 0, once node i's rule has run (or been skipped). Every rule of a
  // node at or above i has then run, so a parameter p has received its whole gradient once
  // i <= first_use(p): a caller can start on finished gradients (p.grad(), to send to other
  // processes) while the sweep goes on. A parameter first used after the output is never
  // passed; its gradient, like every other, is final when backward returns.
  void backward_reporting(const Var<T>& output, const std::function<void(std::uint32_t)>& passed,
                          std::source_location where = std::source_location::current());
  // The index of the earliest node that reads parameter p, or of p's own node if none does;
  // an ad::Error if this recording has not recorded p.
  std::uint32_t first_use(const Parameter<T>& p) const;

  // Opt-in non-finite detection: while on, the first value (when recorded) or adjoint (in
  // a backward sweep) that holds NaN or Inf throws ad::NumericError naming the op, its
  // caller's line and its input shapes. Off by default; off, it costs one branch per node.
  void check_finite(bool on) { check_finite_ = on; }
  bool check_finite() const { return check_finite_; }
  // Throws ad::NumericError if v's value holds NaN or Inf.
  void require_finite(const Var<T>& v) const;

  // Rewinds the tape: every Var recorded so far becomes invalid (using one is an
  // ad::Error); the arena keeps its memory for the next recording.
  void clear();

  std::size_t size() const { return nodes_.size(); }
  // Bytes the arena holds, used or not.
  std::size_t arena_bytes() const { return arena_.bytes(); }
  // Adjoint rules run by the latest backward sweep.
  std::size_t rules_run() const { return rules_run_; }

  // Throws ad::Error unless v is a live node of this tape.
  void check(const Var<T>& v, const char* op, std::source_location where) const {
    if (v.tape_ != this || v.generation_ != generation_) [[unlikely]] {
      reject(v, op, where);
    }
  }

 private:
  friend class Var<T>;
  friend class Parameter<T>;
  template <class, class>
  friend class Rule;
  friend struct detail::OpAccess<T>;
  friend struct detail::ExplainAccess<T>;
  friend class Recording<T>;

  Var<T> leaf(const char* op, const Eigen::Ref<const Matrix<T>>& value, bool needs_grad,
              std::source_location where);
  // Appends an op's node after its inputs were checked (detail::tape_of): takes storage for
  // its value (and adjoint, if an input needs a gradient) and returns the new node's handle;
  // the op then computes its value. Inputs is a braced list or a span of Vars. Inline, as it
  // runs once per op: a 2x2 op costs little more than this bookkeeping.
  template <class Inputs>
  Var<T> append(const detail::OpRecord<T>& op, const Inputs& inputs, std::source_location where) {
    const auto arity = static_cast<std::uint32_t>(inputs.size());
    bool needs_grad = false;
    for (const Var<T>& v : inputs) needs_grad = needs_grad || nodes_[v.index_].needs_grad;
    check_shape(op.name, op.shape, where);
    // Storage first: an allocation refused for its size leaves no half-made node.
    const auto size = static_cast<std::size_t>(op.shape.rows * op.shape.cols);
    T* value = arena_.allocate<T>(size);
    T* adjoint = needs_grad ? arena_.allocate<T>(size) : nullptr;
    detail::Node<T>& n = nodes_.emplace_back();
    origins_.push_back({op.name, where});
    n.rules = op.rules;
    n.value = value;
    n.adjoint = adjoint;
    n.saved = op.saved;
    n.rows = static_cast<std::int32_t>(op.shape.rows);
    n.cols = static_cast<std::int32_t>(op.shape.cols);
    if (arity > detail::Node<T>::inline_inputs) [[unlikely]] {
      n.wide = static_cast<std::uint32_t>(wide_inputs_.size());
    }
    std::uint32_t k = 0;  // counted in a register: a count in the node reloaded after each store
    for (const Var<T>& v : inputs) {
      if (k < detail::Node<T>::inline_inputs) {
        n.inputs[k] = v.index_;
      } else {
        wide_inputs_.push_back(v.index_);
      }
      ++k;
    }
    n.arity = arity;
    n.needs_grad = needs_grad;
    return Var<T>(this, static_cast<std::uint32_t>(nodes_.size() - 1), generation_);
  }
  // Removes the newest node, whose value rule threw: a refused op leaves nothing on the tape
  // but arena memory, reused after the next clear().
  void pop_newest();
  // Memory for a rule of node `node` (Rule::save, Rule::allocate). A value rule's allocations
  // are listed when recorded and handed out again, in the same order, when the recording is
  // evaluated again (replay_values), so that replaying takes no new memory.
  template <class U>
  U* rule_allocate(std::size_t count, std::uint32_t node) {
    if (phase_ == Phase::replaying) {
      return static_cast<U*>(replayed_allocation(node, count * sizeof(U)));
    }
    U* data = arena_.allocate<U>(count);
    if (phase_ == Phase::recording) rule_allocations_.push_back({node, data, count * sizeof(U)});
    return data;
  }
  void* replayed_allocation(std::uint32_t node, std::size_t bytes);
  // Computes again the value of every op up to node `last`, in recording order, from the
  // leaves' current values (the recording's inputs and parameters).
  void replay_values(std::uint32_t last);
  // An ad::ShapeError naming op if a parameter this tape recorded was resized or its storage
  // moved since: its node would read freed memory.
  void check_parameters_unmoved(const char* op) const;
  // Whether parameter p's node still describes it: same shape, same value and gradient storage.
  static bool describes(const detail::Node<T>& n, const Parameter<T>& p);
  // The index of input i of node n.
  std::uint32_t input_index(const detail::Node<T>& n, std::uint32_t i) const {
    constexpr std::uint32_t held = detail::Node<T>::inline_inputs;
    return i < held ? n.inputs[i] : wide_inputs_[n.wide + i - held];
  }
  static void check_shape(const char* op, Shape shape, std::source_location where) {
    constexpr Eigen::Index limit = std::numeric_limits<std::int32_t>::max();
    if (shape.rows < 0 || shape.cols < 0 || shape.rows > limit || shape.cols > limit) [[unlikely]] {
      reject_shape(op, shape, where);
    }
  }
  [[noreturn]] static void reject_shape(const char* op, Shape shape, std::source_location where);
  // Marks the gradient of every parameter whose node this sweep has written as written.
  void mark_gradients_written();
  void sweep(const Var<T>& output, const Eigen::Ref<const Matrix<T>>& seed,
             std::source_location where,
             const std::function<void(std::uint32_t)>* passed = nullptr);

  detail::AdjointSlot<T> adjoint_slot(std::uint32_t index) {
    detail::Node<T>& n = nodes_[index];
    if (!n.adjoint) [[unlikely]] {
      reject_adjoint(n);
    }
    const bool written = n.has_adjoint;
    n.has_adjoint = true;
    return {{n.adjoint, n.rows, n.cols}, written};
  }
  // The node's adjoint, zeroed when first written in a sweep.
  Eigen::Map<Matrix<T>> adjoint(std::uint32_t index) {
    detail::AdjointSlot<T> slot = adjoint_slot(index);
    if (!slot.written) slot.map.setZero();
    return slot.map;
  }
  [[noreturn]] void reject_adjoint(const detail::Node<T>& n) const;
  const detail::Node<T>& node(const Var<T>& v) const {
    check(v, "Var", std::source_location{});  // an accessor has no caller line to name
    return nodes_[v.index_];
  }
  // The parameter recorded as node `index`.
  const Parameter<T>& parameter_of(std::uint32_t index) const;
  const detail::Origin& origin(const detail::Node<T>& n) const {
    return origins_[static_cast<std::size_t>(&n - nodes_.data())];
  }
  [[noreturn]] void reject(const Var<T>& v, const char* op, std::source_location where) const;
  // A parameter this recording refers to is being destroyed: its node's memory goes with it.
  void lose_parameter(const Parameter<T>* p);
#ifdef AD_DEBUG_CHECKS
  // Takes this tape off the lists of the parameters it records (they are alive: see above).
  void forget_parameters();
#endif
  // Out of line, so that clearing a tape without names costs one test.
  [[gnu::noinline]] void forget_names();
  std::string describe(const detail::Node<T>& n) const;
  void require_finite_adjoints(const detail::Node<T>& n) const;
  // require_finite for a node: ops call it without a Var in memory to refer to.
  void require_finite_value(const detail::Node<T>& n) const;

  std::vector<detail::Node<T>> nodes_;
  std::vector<detail::Origin> origins_;     // origins_[i] belongs to nodes_[i]
  std::vector<std::uint32_t> wide_inputs_;  // inputs of ops with more than Node::inline_inputs
  // Names given with Var::named, by node; empty unless a name was given, and only read by
  // Var::name, ad::explain and ad::to_dot.
  std::vector<std::pair<std::uint32_t, std::string>> names_;
  // The parameters on the tape and their nodes: a sweep assigns a zeroed parameter's first
  // contribution (its node starts without an adjoint) and then marks its gradient written.
  std::vector<std::pair<std::uint32_t, Parameter<T>*>> parameters_;
  detail::Arena arena_;
  std::uint64_t generation_ = detail::next_generation();
  // Set when a parameter this recording refers to was destroyed (debug builds detect it):
  // every handle of the recording is then refused, naming the reason, until clear().
  bool lost_parameter_ = false;
  std::size_t rules_run_ = 0;
  // What Rule::allocate is called for: recording (listed in rule_allocations_), a backward
  // sweep (not listed) or replay_values (handed out from the list, from replayed_ on).
  enum class Phase : std::uint8_t { recording, sweeping, replaying };
  Phase phase_ = Phase::recording;
  std::vector<detail::RuleAllocation> rule_allocations_;
  std::size_t replayed_ = 0;
  // Nodes [0, swept_) may carry has_adjoint from the latest sweep; the next sweep resets
  // only those (nodes recorded since start unset), so a sweep after clear() resets none.
  std::uint32_t swept_ = 0;
  bool check_finite_ = false;
};

// The view an op has of its node: input values x(i), the output value y(), the output
// adjoint ybar(), the input adjoints and, for an op with Saved state, saved(); in the
// notation of the op table. An adjoint rule adds its contribution to input i's adjoint Āᵢ
// in one of two ways:
//   accumulate(i, e)   Āᵢ += e for a whole matrix or array expression e;
//   xbar(i)            Āᵢ to add into part by part (a block, a diagonal, single elements).
template <class T, class Saved>
class Rule {
 public:
  using ConstMap = Eigen::Map<const Matrix<T>>;
  using Map = Eigen::Map<Matrix<T>>;

  Rule(Tape<T>& tape, std::uint32_t index) : tape_(&tape), node_(&tape.nodes_[index]) {}
  // The same node seen with another Saved type (a rule handing its node to a helper).
  template <class Other>
  explicit Rule(const Rule<T, Other>& r) : tape_(r.tape_), node_(r.node_) {}

  int arity() const { return static_cast<int>(node_->arity); }
  ConstMap x(int i) const { return value_of(input(i)); }
  Map y() const { return {node_->value, node_->rows, node_->cols}; }
  ConstMap ybar() const { return {node_->adjoint, node_->rows, node_->cols}; }
  // Āᵢ += e, assigned instead when it is the first contribution to Āᵢ in this sweep (no
  // pass of zeros first).
  template <class E>
  void accumulate(int i, const E& e) const {
    auto [xbar, written] = slot(i);
    if constexpr (std::is_base_of_v<Eigen::ArrayBase<E>, E>) {
      if (written) {
        xbar.array() += e;
      } else {
        xbar.array() = e;
      }
    } else if (written) {
      xbar += e;
    } else {
      xbar = e;
    }
  }
  // Input i's adjoint, to add into. Zeroed on first touch in a sweep.
  Map xbar(int i) const { return tape_->adjoint(index_of(i)); }
  // Whether input i leads to a variable or parameter, i.e. whether its adjoint is wanted.
  bool wants(int i) const { return input(i).needs_grad; }

  // The op's saved state: the Op::Saved object it was recorded with.
  std::add_lvalue_reference_t<Saved> saved() const requires(!std::is_void_v<Saved>) {
    return *static_cast<Saved*>(node_->saved);
  }
  // Keeps a copy of matrix m on the tape, for the adjoint to read (store the handle in the
  // op's saved state). Allocates from the tape's arena: nothing to free.
  // A value rule that saves gets the same memory back, with the same shape, when the
  // recording is evaluated again (<ad/replay.hpp>).
  template <class E>
  SavedMatrix<T> save(const Eigen::MatrixBase<E>& m) const {
    SavedMatrix<T> s{allocate<T>(static_cast<std::size_t>(m.size())), m.rows(), m.cols()};
    s.map() = m;
    return s;
  }
  // Room on the tape for count objects of type U (integers, scalars), uninitialised.
  template <class U>
  U* allocate(std::size_t count) const {
    return tape_->template rule_allocate<U>(count, index());
  }
  // The caller's line that recorded this node, for the rules' error messages.
  std::source_location where() const { return tape_->origins_[index()].where; }

 private:
  template <class, class>
  friend class Rule;
  friend struct detail::OpAccess<T>;
  std::uint32_t index_of(int i) const {
    return tape_->input_index(*node_, static_cast<std::uint32_t>(i));
  }
  std::uint32_t index() const { return static_cast<std::uint32_t>(node_ - tape_->nodes_.data()); }
  const detail::Node<T>& input(int i) const { return tape_->nodes_[index_of(i)]; }
  static ConstMap value_of(const detail::Node<T>& n) { return {n.value, n.rows, n.cols}; }
  // Input i's adjoint and whether this sweep has written it.
  detail::AdjointSlot<T> slot(int i) const { return tape_->adjoint_slot(index_of(i)); }

  Tape<T>* tape_;
  detail::Node<T>* node_;
};

namespace detail {
[[noreturn]] void throw_empty_var();
[[noreturn]] void throw_dead_tape();
}  // namespace detail

template <class T>
inline Tape<T>& Var<T>::tape() const {
  if (!tape_) [[unlikely]] {
    detail::throw_empty_var();
  }
#ifdef AD_DEBUG_CHECKS
  if (!detail::tape_is_live(tape_)) detail::throw_dead_tape();
#endif
  return *tape_;
}

template <class T>
inline Shape Var<T>::shape() const {
  const detail::Node<T>& n = tape().node(*this);
  return {n.rows, n.cols};
}

extern template class Tape<float>;
extern template class Tape<double>;
extern template class Var<float>;
extern template class Var<double>;
extern template class Tape<Dual<double>>;
extern template class Var<Dual<double>>;

}  // namespace ad
