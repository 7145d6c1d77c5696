#pragma once
// Ops of your own, recorded by the same route as the engine's: an op is a struct of static
// members, one definition with its value and adjoint rules side by side.
//
//   template <class T>
//   struct ScaledSquare {
//     static constexpr const char* name = "scaled_square";
//     struct Saved { T scale; };  // optional: what the rules need beyond inputs and output
//     // The output's shape, or ad::ShapeMismatch("why") if the inputs do not fit.
//     static ad::Shape shape(const ad::InputShapes<T>& in) { return in[0]; }
//     // C = s A ⊙ A
//     static void value(const ad::Rule<T, Saved>& r) {
//       r.y().array() = r.saved().scale * r.x(0).array().square();
//     }
//     // Ā += 2 s C̄ ⊙ A
//     static void adjoint(const ad::Rule<T, Saved>& r) {
//       r.accumulate(0, 2 * r.saved().scale * r.ybar().array() * r.x(0).array());
//     }
//   };
//
//   ad::Var<double> c = ad::custom_op<ScaledSquare<double>>({a}, {.scale = 3});
//
// (An op without Saved state takes const ad::Rule<T>&.) docs/custom-ops.md explains each
// part; examples/custom_op/ops.hpp has two complete ops.

#include <ad/symbolic.hpp>
#include <ad/tape.hpp>

#include <concepts>
#include <cstddef>
#include <exception>
#include <initializer_list>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ad {

// Thrown by a custom op's shape rule when its inputs do not fit; custom_op turns it into an
// ad::ShapeError naming the op, every input's shape, the reason and the caller's line.
class ShapeMismatch : public std::exception {
 public:
  explicit ShapeMismatch(std::string why) : why_(std::move(why)) {}
  const char* what() const noexcept override { return why_.c_str(); }

 private:
  std::string why_;
};

// The shapes of a custom op's inputs, for its shape rule: in.size(), in[i].
template <class T>
class InputShapes {
 public:
  explicit InputShapes(std::span<const Var<T>> inputs) : inputs_(inputs) {}
  std::size_t size() const { return inputs_.size(); }
  Shape operator[](std::size_t i) const { return inputs_[i].shape(); }

 private:
  std::span<const Var<T>> inputs_;
};

namespace detail {

// What an op may do on a tape once tape_of has checked its inputs: read their shapes and
// append its node without checking the handles again (a 2x2 op checked each input up to
// four times).
template <class T>
struct OpAccess {
  static Shape shape(const Tape<T>& tape, const Var<T>& v) {
    const Node<T>& n = tape.nodes_[v.index()];
    return {n.rows, n.cols};
  }
  template <class Inputs>
  static Var<T> append(Tape<T>& tape, const OpRecord<T>& op, const Inputs& inputs,
                       std::source_location where) {
    return tape.append(op, inputs, where);
  }
  static void pop_newest(Tape<T>& tape) { tape.pop_newest(); }
  static bool needs_grad(const Tape<T>& tape, const Var<T>& v) {
    return tape.nodes_[v.index()].needs_grad;
  }
  static void require_finite(const Tape<T>& tape, std::uint32_t index) {
    tape.require_finite_value(tape.nodes_[index]);
  }
  template <class U>
  static U* allocate(Tape<T>& tape, std::size_t count) {
    return tape.arena_.template allocate<U>(count);
  }
  template <class Saved>
  static AdjointSlot<T> slot(const Rule<T, Saved>& r, int i) {
    return r.slot(i);
  }
};

[[noreturn]] void reject_empty_input(const char* op, std::source_location where);
[[noreturn]] void reject_no_inputs(const char* op, std::source_location where);

// The tape all inputs are on; an ad::Error naming the op if one is empty, stale or from
// another tape. Inlined into every op: a call cost a 2x2 op more than the checks.
template <class T, class... Rest>
[[gnu::always_inline]] inline Tape<T>& tape_of(const char* op, std::source_location where,
                                               const Var<T>& first, const Rest&... rest) {
  if (first.empty()) [[unlikely]] {
    reject_empty_input(op, where);
  }
  Tape<T>& tape = first.tape();
  tape.check(first, op, where);
  (tape.check(rest, op, where), ...);
  return tape;
}

// The same for a run-time number of inputs, at least one.
template <class T>
Tape<T>& tape_of(const char* op, std::source_location where, std::span<const Var<T>> inputs) {
  if (inputs.empty()) [[unlikely]] {
    reject_no_inputs(op, where);
  }
  Tape<T>& tape = tape_of(op, where, inputs[0]);
  for (const Var<T>& v : inputs.subspan(1)) tape.check(v, op, where);
  return tape;
}

// The type of op Op's saved state; void if it has none.
template <class Op>
struct SavedOf {
  using type = void;
};
template <class Op>
requires requires { typename Op::Saved; }
struct SavedOf<Op> {
  using type = typename Op::Saved;
  static_assert(std::is_trivially_copyable_v<type> && std::is_trivially_destructible_v<type>,
                "an op's Saved state lives in the tape's arena, which runs no destructor: "
                "hold matrices as ad::SavedMatrix (see Rule::save), not Eigen::Matrix");
};
template <class Op>
using SavedType = typename SavedOf<Op>::type;

// Op's Saved state on the tape, a copy of `saved` (value-initialised without one); null for
// an op that saves nothing.
template <class Op, class T>
void* keep(Tape<T>& tape) {
  if constexpr (std::is_void_v<SavedType<Op>>) {
    return nullptr;
  } else {
    return std::construct_at(OpAccess<T>::template allocate<SavedType<Op>>(tape, 1));
  }
}
template <class Op, class T>
void* keep(Tape<T>& tape, const SavedType<Op>& saved) {
  return std::construct_at(OpAccess<T>::template allocate<SavedType<Op>>(tape, 1), saved);
}

// The value and adjoint rules on a node of op Op, as the tape calls them: the tape and the
// node's index arrive in registers. A Rule made by the caller and passed by reference was
// copied here by one 16-byte load of two 8-byte stores, which the CPU cannot forward: a
// stall that cost a replayed 2x2 op a fifth of its time.
template <class Op, class T>
void value_of(Tape<T>& tape, std::uint32_t node) {
  Op::value(Rule<T, SavedType<Op>>(tape, node));
}
template <class Op, class T>
void adjoint_of(Tape<T>& tape, std::uint32_t node) {
  Op::adjoint(Rule<T, SavedType<Op>>(tape, node));
}

// Whether Op states its adjoint as data (ad/symbolic.hpp): a static member
//   Expr<T> symbolic(const Symbolic<T, Saved>& s, int i)   // input i's contribution
template <class Op, class T>
concept HasSymbolic = requires(const Symbolic<T, SavedType<Op>>& s) {
  { Op::symbolic(s, 0) } -> std::same_as<Expr<T>>;
};

template <class Op, class T>
Expr<T> symbolic_of(const Symbolic<T>& s, int i) {
  return Op::symbolic(Symbolic<T, SavedType<Op>>(s), i);
}

// Op's symbolic rule, or null for an op that gives none (ad::explain then calls its adjoint
// rule). A dual tape (second derivatives, <ad/hessian.hpp>) is never explained: its ops
// carry none.
template <class Op, class T>
constexpr auto symbolic_rule_of() -> Expr<T> (*)(const Symbolic<T>&, int) {
  if constexpr (HasSymbolic<Op, T> && !is_dual<T>) {
    return &symbolic_of<Op, T>;
  } else {
    return nullptr;
  }
}

// The record every node of op Op points at.
template <class Op, class T>
inline constexpr OpRules<T> rules_of{&value_of<Op, T>, &adjoint_of<Op, T>,
                                     symbolic_rule_of<Op, T>()};

// Appends op Op's node and computes its value: every op, built in or custom, is recorded
// here. If the value rule throws, or check_finite refuses the value, the node is removed
// again. Inlined into every op: for a
// 2x2 op a call here cost as much as the bookkeeping it does.
template <class Op, class T, class Inputs>
[[gnu::always_inline]] inline Var<T> record_inputs(Tape<T>& tape, const char* name,
                                                   const Inputs& inputs, Shape shape,
                                                   std::source_location where, void* saved) {
  Var<T> c = OpAccess<T>::append(tape, {name, shape, &rules_of<Op, T>, saved}, inputs, where);
  try {
    Op::value(Rule<T, SavedType<Op>>(tape, c.index()));
    // By index: a reference to c would keep it in memory, and reading it back right after
    // storing it stalled every op.
    if (tape.check_finite()) OpAccess<T>::require_finite(tape, c.index());
  } catch (...) {
    OpAccess<T>::pop_newest(tape);
    throw;
  }
  return c;
}

// record_inputs for a braced list of inputs, with Op's Saved state if it has one: the
// engine's own ops, each of which states its adjoint as data.
template <class Op, class T>
[[gnu::always_inline]] inline Var<T> record(Tape<T>& tape, const char* name,
                                            std::type_identity_t<InputList<T>> inputs, Shape shape,
                                            std::source_location where) {
  static_assert(HasSymbolic<Op, T>, "a built-in op needs a symbolic rule (ad/symbolic.hpp)");
  return record_inputs<Op>(tape, name, inputs, shape, where, keep<Op>(tape));
}
template <class Op, class T>
[[gnu::always_inline]] inline Var<T> record(Tape<T>& tape, const char* name,
                                            std::type_identity_t<InputList<T>> inputs, Shape shape,
                                            std::source_location where,
                                            const SavedType<Op>& saved) {
  static_assert(HasSymbolic<Op, T>, "a built-in op needs a symbolic rule (ad/symbolic.hpp)");
  return record_inputs<Op>(tape, name, inputs, shape, where, keep<Op>(tape, saved));
}

[[noreturn]] void reject_shapes(const char* op, std::span<const Shape> shapes,
                                const std::string& why, std::source_location where);

// Whether op Op declares that its rules hold on dual numbers (`static constexpr bool
// second_order = true;`): its value and adjoint rules are written for any scalar type and
// differentiate correctly on ad::Dual<double>, so that <ad/hessian.hpp> can differentiate
// them once more. Without it, record_custom refuses the op on a tape of dual numbers: rules
// written for float and double alone cannot be trusted to carry a tangent (a cast to double
// drops it).
template <class Op>
concept declares_second_order = requires {
  requires Op::second_order;
};

// An ad::Error: op `name` was recorded on a second-order tape without declaring second_order.
[[noreturn]] void reject_first_order_only(const char* op, std::source_location where);
// Op's shape rule, then the route every op takes.
template <class Op, class T>
Var<T> record_custom_op(Tape<T>& tape, std::span<const Var<T>> inputs, void* saved,
                        std::source_location where) {
  const InputShapes<T> in(inputs);
  Shape shape;
  try {
    if constexpr (requires { Op::shape(in, *static_cast<const SavedType<Op>*>(saved)); }) {
      shape = Op::shape(in, *static_cast<const SavedType<Op>*>(saved));
    } else {
      shape = Op::shape(in);
    }
  } catch (const ShapeMismatch& e) {
    std::vector<Shape> shapes;
    for (const Var<T>& v : inputs) shapes.push_back(v.shape());
    reject_shapes(Op::name, shapes, e.what(), where);
  }
  return record_inputs<Op>(tape, Op::name, inputs, shape, where, saved);
}

// custom_op's work once the Saved state is on the tape; on a second-order tape (ad::Dual)
// only for an op that declares second_order.
template <class Op, class T>
Var<T> record_custom(Tape<T>& tape, std::span<const Var<T>> inputs, void* saved,
                     std::source_location where) {
  if constexpr (is_dual<T> && !declares_second_order<Op>) {
    reject_first_order_only(Op::name, where);
  } else {
    return record_custom_op<Op>(tape, inputs, saved, where);
  }
}

}  // namespace detail

// Records op Op (see the top of this file) on its inputs' tape: checks that the inputs are
// live handles of one tape (ad::Error), asks Op::shape for the output's shape (an
// ad::ShapeError naming the op, the inputs' shapes and the caller's line if it throws
// ad::ShapeMismatch), keeps Op's Saved state on the tape (value-initialised, or a copy of
// `saved`), computes the value and applies the tape's check_finite to it and, in backward,
// to the adjoints the rule writes. Any number of inputs, at least one.
template <class Op, class T>
Var<T> custom_op(std::span<const Var<T>> inputs,
                 std::source_location where = std::source_location::current()) {
  Tape<T>& tape = detail::tape_of(Op::name, where, inputs);
  return detail::record_custom<Op>(tape, inputs, detail::keep<Op>(tape), where);
}
template <class Op, class T>
Var<T> custom_op(std::span<const Var<T>> inputs, const detail::SavedType<Op>& saved,
                 std::source_location where = std::source_location::current()) {
  Tape<T>& tape = detail::tape_of(Op::name, where, inputs);
  return detail::record_custom<Op>(tape, inputs, detail::keep<Op>(tape, saved), where);
}
template <class Op, class T>
Var<T> custom_op(std::initializer_list<Var<T>> inputs,
                 std::source_location where = std::source_location::current()) {
  return custom_op<Op>(std::span<const Var<T>>(inputs.begin(), inputs.size()), where);
}
template <class Op, class T>
Var<T> custom_op(std::initializer_list<Var<T>> inputs, const detail::SavedType<Op>& saved,
                 std::source_location where = std::source_location::current()) {
  return custom_op<Op>(std::span<const Var<T>>(inputs.begin(), inputs.size()), saved, where);
}

}  // namespace ad
