// ad::explain and ad::to_dot: the derivation a backward sweep performs, built from the ops'
// symbolic rules, printed and evaluated; and the graph as Graphviz DOT.

#include <ad/custom_op.hpp>
#include <ad/explain.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <unordered_map>

namespace ad {

namespace detail {

// What explain and to_dot read of a tape: its nodes, their origins and names, and a way to
// run one node's adjoint rule on an adjoint of our choosing.
template <class T>
struct ExplainAccess {
  static const Node<T>& node(const Tape<T>& t, std::uint32_t i) { return t.nodes_[i]; }
  static const Origin& origin(const Tape<T>& t, std::uint32_t i) { return t.origins_[i]; }
  static std::uint32_t input(const Tape<T>& t, std::uint32_t i, std::uint32_t k) {
    return t.input_index(t.nodes_[i], k);
  }
  static std::string_view name(const Tape<T>& t, std::uint32_t i) {
    for (const auto& [index, name] : t.names_) {
      if (index == i) return name;
    }
    return {};
  }
  static void check(const Tape<T>& t, const Var<T>& v, const char* op) {
    t.check(v, op, std::source_location::current());
  }

  // The contribution of node i's adjoint rule, applied to cbar, to the adjoint of its
  // input node `to`: the rule writes into scratch adjoints swapped in for the node's and its
  // inputs' (restored afterwards, so the tape's own adjoints are untouched).
  static Matrix<T> run_rule(Tape<T>& t, std::uint32_t i, std::uint32_t to, const Matrix<T>& cbar) {
    Node<T>& n = t.nodes_[i];
    struct Swapped {
      Node<T>* node;
      T* adjoint;
      bool has_adjoint;
      Matrix<T> scratch;
    };
    std::vector<Swapped> swapped;
    swapped.reserve(n.arity + 1);
    Matrix<T> out_adjoint = cbar;
    swapped.push_back({&n, n.adjoint, n.has_adjoint, {}});
    n.adjoint = out_adjoint.data();
    n.has_adjoint = true;
    for (std::uint32_t k = 0; k < n.arity; ++k) {
      Node<T>& in = t.nodes_[t.input_index(n, k)];
      const bool seen = std::any_of(swapped.begin(), swapped.end(),
                                    [&](const Swapped& s) { return s.node == &in; });
      if (seen || !in.adjoint) continue;
      swapped.push_back({&in, in.adjoint, in.has_adjoint, Matrix<T>::Zero(in.rows, in.cols)});
      in.adjoint = swapped.back().scratch.data();
      in.has_adjoint = true;  // the scratch is zeroed: the rule adds into it
    }
    struct Restore {
      std::vector<Swapped>& swapped;
      ~Restore() {
        for (Swapped& s : swapped) {
          s.node->adjoint = s.adjoint;
          s.node->has_adjoint = s.has_adjoint;
        }
      }
    } restore{swapped};
    n.rules->adjoint(t, i);
    for (const Swapped& s : swapped) {
      if (s.node == &t.nodes_[to]) return s.scratch;
    }
    return Matrix<T>::Zero(t.nodes_[to].rows, t.nodes_[to].cols);
  }
};

}  // namespace detail

namespace {

template <class T>
using Access = detail::ExplainAccess<T>;
template <class T>
using Kind = typename Expr<T>::Kind;

bool is(const char* op, const char* name) { return std::strcmp(op, name) == 0; }

// An elementwise function whose output is named after its input (a1 = σ(z1)).
bool is_activation(const char* op) {
  for (const char* name : {"sigmoid", "tanh", "relu", "softplus", "softmax"}) {
    if (is(op, name)) return true;
  }
  return false;
}

// Nodes [0, output] that lead to output.
template <class T>
std::vector<bool> leading_to(const Tape<T>& tape, std::uint32_t output) {
  std::vector<bool> leads(output + 1, false);
  leads[output] = true;
  for (std::uint32_t i = output + 1; i-- > 0;) {
    if (!leads[i]) continue;
    const auto& n = Access<T>::node(tape, i);
    for (std::uint32_t k = 0; k < n.arity; ++k) leads[Access<T>::input(tape, i, k)] = true;
  }
  return leads;
}

// The names explain and to_dot print (see ad/explain.hpp), for the nodes that lead to output.
template <class T>
std::map<std::uint32_t, std::string> names_of(const Tape<T>& tape, std::uint32_t output,
                                              const std::vector<bool>& leads) {
  std::map<std::uint32_t, std::string> names;
  std::set<std::string> taken;
  for (std::uint32_t i = 0; i <= output; ++i) {
    if (!leads[i]) continue;
    const std::string_view given = Access<T>::name(tape, i);
    if (!given.empty()) taken.emplace(given);
  }
  int variables = 0, parameters = 0, constants = 0, intermediates = 0;
  auto fresh = [&](std::string name) {
    while (taken.count(name)) name += "'";
    taken.insert(name);
    return name;
  };
  for (std::uint32_t i = 0; i <= output; ++i) {
    if (!leads[i]) continue;
    const std::string_view given = Access<T>::name(tape, i);
    if (!given.empty()) {
      names[i] = std::string(given);
      continue;
    }
    const auto& n = Access<T>::node(tape, i);
    const char* op = Access<T>::origin(tape, i).op;
    if (n.arity == 0) {
      if (is(op, "variable")) {
        names[i] = fresh(fmt::format("x{}", variables++));
      } else if (is(op, "parameter")) {
        names[i] = fresh(fmt::format("p{}", parameters++));
      } else {
        names[i] = fresh(fmt::format("c{}", constants++));
      }
      continue;
    }
    if (i == output) {
      names[i] = fresh("y");
      continue;
    }
    // a_k for an activation of z_k, when z_k is a name of ours and a_k is free.
    if (is_activation(op)) {
      const std::string& in = names[Access<T>::input(tape, i, 0)];
      if (in.size() > 1 && in[0] == 'z' &&
          in.find_first_not_of("0123456789", 1) == std::string::npos) {
        std::string a = "a" + in.substr(1);
        if (!taken.count(a)) {
          names[i] = fresh(a);
          continue;
        }
      }
    }
    names[i] = fresh(fmt::format("z{}", ++intermediates));
  }
  return names;
}

// name with a bar over its first letter: z̄1, W̄1; the precomposed letter where Unicode has
// one (ā, ȳ), which terminals draw better than a combining macron.
std::string bar(const std::string& name) {
  if (name.empty()) return "?\u0304";
  static const std::map<char, const char*> precomposed = {
      {'a', "ā"}, {'e', "ē"}, {'i', "ī"}, {'o', "ō"}, {'u', "ū"}, {'y', "ȳ"}, {'g', "ḡ"},
      {'A', "Ā"}, {'E', "Ē"}, {'I', "Ī"}, {'O', "Ō"}, {'U', "Ū"}, {'Y', "Ȳ"}, {'G', "Ḡ"}};
  if (auto it = precomposed.find(name[0]); it != precomposed.end()) {
    return it->second + name.substr(1);
  }
  std::size_t first = 1;
  while (first < name.size() && (static_cast<unsigned char>(name[first]) & 0xC0) == 0x80) ++first;
  return name.substr(0, first) + "\u0304" + name.substr(first);
}

// The columns s takes on a terminal: code points, less combining marks (U+0300 to U+036F).
std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (std::size_t k = 0; k < s.size(); ++k) {
    const auto c = static_cast<unsigned char>(s[k]);
    if ((c & 0xC0) == 0x80) continue;
    const bool combining =
        c == 0xCC || (c == 0xCD && k + 1 < s.size() && static_cast<unsigned char>(s[k + 1]) < 0xB0);
    if (!combining) ++n;
  }
  return n;
}

// Rows of two columns, the first padded to the widest (at most 60 columns).
std::string table(const std::vector<std::pair<std::string, std::string>>& rows,
                  const std::string& indent) {
  std::size_t width = 0;
  for (const auto& row : rows) width = std::max(width, columns(row.first));
  width = std::min<std::size_t>(width, 60);
  std::string s;
  for (const auto& [left, right] : rows) {
    const std::size_t used = columns(left);
    s += indent + left + std::string(used < width ? width - used : 0, ' ') + "  " + right + "\n";
  }
  return s;
}

std::string number(double v) { return fmt::format("{:g}", v); }

// Prints expressions: every compound operand in parentheses except the left factor of a
// product and the terms of a sum, which read the same without.
template <class T>
class Printer {
 public:
  Printer(const std::map<std::uint32_t, std::string>& names, const Tape<T>& tape,
          std::uint32_t output, const ExplainOptions& options,
          std::set<const void*> inline_adjoints)
      : names_(names),
        tape_(tape),
        output_(output),
        options_(options),
        inline_(std::move(inline_adjoints)) {}

  std::string print(const Expr<T>& e) const {
    const auto& n = e.node();
    switch (n.kind) {
      case Kind<T>::value:
        return names_.at(n.index);
      case Kind<T>::adjoint:
        return inline_.count(&n) ? print(n.args[0]) : bar(names_.at(n.index));
      case Kind<T>::seed:
        return n.unit ? "1" : bar(names_.at(output_));
      case Kind<T>::zero:
        return "0";
      case Kind<T>::ones:
        return "𝟙";
      case Kind<T>::identity:
        return "𝐈";
      case Kind<T>::literal:
        return n.symbol;
      case Kind<T>::product: {
        const Expr<T>& a = n.args[0];
        return fmt::format("{} {}", a.kind() == Kind<T>::product ? print(a) : operand(a),
                           operand(n.args[1]));
      }
      case Kind<T>::transpose:
        return operand(n.args[0]) + "ᵀ";
      case Kind<T>::sum: {
        // A term that is a sum or a product (or a scaled matrix, c A) reads the same without
        // parentheses; a subtracted one only if it is a product.
        auto term = [&](const Expr<T>& t) {
          const bool plain = t.kind() == Kind<T>::sum || t.kind() == Kind<T>::product ||
                             t.kind() == Kind<T>::scaled;
          return plain ? print(t) : operand(t);
        };
        const Expr<T>& b = n.args[1];
        if (b.kind() == Kind<T>::affine && b.node().beta == T(0) && b.node().alpha < T(0)) {
          const Expr<T> positive = affine(b.node().args[0], -b.node().alpha, T(0));
          return fmt::format(
              "{} − {}", term(n.args[0]),
              positive.kind() == Kind<T>::product ? print(positive) : operand(positive));
        }
        return fmt::format("{} + {}", term(n.args[0]), term(b));
      }
      case Kind<T>::hadamard:
        return fmt::format("{} ⊙ {}", operand(n.args[0]), operand(n.args[1]));
      case Kind<T>::quotient:
        return fmt::format("{} ⊘ {}", operand(n.args[0]), operand(n.args[1]));
      case Kind<T>::affine:
        return affine_text(n);
      case Kind<T>::scaled:
        return fmt::format("{} {}", operand(n.args[0]), operand(n.args[1]));
      case Kind<T>::map: {
        // An argument of a function written f(…) needs no parentheses of its own.
        const bool called = n.symbol.find("({}") != std::string::npos;
        auto arg = [&](std::size_t i) { return called ? print(n.args[i]) : operand(n.args[i]); };
        if (n.args.size() == 1) return fmt::format(fmt::runtime(n.symbol), arg(0));
        return fmt::format(fmt::runtime(n.symbol), arg(0), arg(1));
      }
      case Kind<T>::derivative:
        if (options_.spell_derivatives) return print(n.args[1]);
        return fmt::format("{}({})", n.symbol, print(n.args[0]));
      case Kind<T>::block:
        return fmt::format("{}[{}:{}, {}:{}]", operand(n.args[0]), n.row, n.row + n.shape.rows,
                           n.col, n.col + n.shape.cols);
      case Kind<T>::embed:
        return fmt::format("embed({}, at ({}, {}) of {})", print(n.args[0]), n.row, n.col,
                           to_string(n.shape));
      case Kind<T>::opaque:
        return fmt::format("vjp⟨{}, {}⟩({})", Access<T>::origin(tape_, n.index).op, n.input,
                           print(n.args[0]));
    }
    return "?";
  }

  // Whether e prints as one symbol (a name, a function, a transpose), needing no parentheses.
  bool atomic(const Expr<T>& e) const {
    const auto& n = e.node();
    switch (n.kind) {
      case Kind<T>::adjoint:
        return !inline_.count(&n) || atomic(n.args[0]);
      case Kind<T>::product:
      case Kind<T>::sum:
      case Kind<T>::hadamard:
      case Kind<T>::quotient:
      case Kind<T>::affine:
      case Kind<T>::scaled:
        return false;
      case Kind<T>::map:
        return n.symbol.find("({}") != std::string::npos || n.symbol.rfind("{}", 0) == 0 ||
               n.symbol.rfind("(", 0) == 0;
      case Kind<T>::derivative:
        return !options_.spell_derivatives || atomic(n.args[1]);
      default:
        return true;
    }
  }

  // Whether an adjoint prints as its name (defined in Derivation::where).
  bool named(const Expr<T>& e) const {
    return e.kind() == Kind<T>::adjoint && !inline_.count(&e.node());
  }

  std::string operand(const Expr<T>& e) const {
    return atomic(e) ? print(e) : "(" + print(e) + ")";
  }

 private:
  std::string affine_text(const typename Expr<T>::Node& n) const {
    const T alpha = n.alpha, beta = n.beta;
    // α 1 + β for the unit seed is a number.
    if (n.args[0].unit()) return number(alpha + beta);
    const std::string a = operand(n.args[0]);
    std::string scaled_part = alpha == T(1)    ? a
                              : alpha == T(-1) ? "−" + a
                                               : fmt::format("{} {}", number(alpha), a);
    if (beta == T(0)) return scaled_part;
    if (alpha == T(-1)) return fmt::format("{} − {}", number(beta), a);
    return beta < T(0) ? fmt::format("{} − {}", scaled_part, number(-beta))
                       : fmt::format("{} + {}", scaled_part, number(beta));
  }

  const std::map<std::uint32_t, std::string>& names_;
  const Tape<T>& tape_;
  std::uint32_t output_;
  const ExplainOptions& options_;
  std::set<const void*> inline_;
};

// Visits every node of e once, children first.
template <class T, class F>
void post_order(const Expr<T>& e, std::set<const void*>& seen, F f) {
  if (!seen.insert(&e.node()).second) return;
  for (const Expr<T>& a : e.node().args) post_order(a, seen, f);
  f(e);
}

// How many times each adjoint node is used as an operand in the tree below top.
template <class T>
std::unordered_map<const void*, int> adjoint_uses(const Expr<T>& top) {
  std::unordered_map<const void*, int> uses;
  std::set<const void*> seen;
  post_order(top, seen, [&](const Expr<T>& e) {
    for (const Expr<T>& a : e.node().args) {
      if (a.kind() == Kind<T>::adjoint) ++uses[&a.node()];
    }
  });
  return uses;
}

std::string shape_text(Shape s) { return fmt::format("{}x{}", s.rows, s.cols); }

// "(2x1)(1x2) → 2x2" for a compound node; empty for a symbol.
template <class T>
std::string operation_shapes(const Expr<T>& e) {
  const auto& n = e.node();
  auto arg = [&](int i) {
    return fmt::format("({})", shape_text(n.args[static_cast<std::size_t>(i)].shape()));
  };
  std::string ops;
  switch (n.kind) {
    case Kind<T>::product:
      ops = arg(0) + arg(1);
      break;
    case Kind<T>::transpose:
      ops = arg(0) + "ᵀ";
      break;
    case Kind<T>::sum:
      ops = arg(0) + " + " + arg(1);
      break;
    case Kind<T>::hadamard:
      ops = arg(0) + " ⊙ " + arg(1);
      break;
    case Kind<T>::quotient:
      ops = arg(0) + " ⊘ " + arg(1);
      break;
    case Kind<T>::scaled:
      ops = arg(0) + " " + arg(1);
      break;
    default:
      return {};
  }
  return ops + " → " + shape_text(n.shape);
}

template <class T>
Matrix<T> evaluate_expr(const Expr<T>& e, Tape<T>& tape, const Matrix<T>& seed,
                        std::unordered_map<const void*, Matrix<T>>& memo) {
  const auto& n = e.node();
  if (auto it = memo.find(&n); it != memo.end()) return it->second;
  auto arg = [&](std::size_t i) { return evaluate_expr(n.args[i], tape, seed, memo); };
  Matrix<T> m;
  switch (n.kind) {
    case Kind<T>::value: {
      const auto& v = Access<T>::node(tape, n.index);
      m = Eigen::Map<const Matrix<T>>(v.value, v.rows, v.cols);
      break;
    }
    case Kind<T>::adjoint:
    case Kind<T>::derivative:
      m = arg(n.kind == Kind<T>::adjoint ? 0 : 1);
      break;
    case Kind<T>::seed:
      m = seed;
      break;
    case Kind<T>::zero:
      m = Matrix<T>::Zero(n.shape.rows, n.shape.cols);
      break;
    case Kind<T>::ones:
      m = Matrix<T>::Ones(n.shape.rows, 1);
      break;
    case Kind<T>::identity:
      m = Matrix<T>::Identity(n.shape.rows, n.shape.cols);
      break;
    case Kind<T>::literal:
      m = n.matrix;
      break;
    case Kind<T>::product:
      m = arg(0) * arg(1);
      break;
    case Kind<T>::transpose:
      m = arg(0).transpose();
      break;
    case Kind<T>::sum:
      m = arg(0) + arg(1);
      break;
    case Kind<T>::hadamard:
      m = arg(0).cwiseProduct(arg(1));
      break;
    case Kind<T>::quotient:
      m = arg(0).cwiseQuotient(arg(1));
      break;
    case Kind<T>::affine:
      m = (n.alpha * arg(0).array() + n.beta).matrix();
      break;
    case Kind<T>::scaled:
      m = arg(0)(0, 0) * arg(1);
      break;
    case Kind<T>::map: {
      std::vector<Matrix<T>> args;
      for (std::size_t i = 0; i < n.args.size(); ++i) args.push_back(arg(i));
      m = n.function(args);
      break;
    }
    case Kind<T>::block:
      m = arg(0).block(n.row, n.col, n.shape.rows, n.shape.cols);
      break;
    case Kind<T>::embed: {
      const Matrix<T> part = arg(0);
      m = Matrix<T>::Zero(n.shape.rows, n.shape.cols);
      m.block(n.row, n.col, part.rows(), part.cols()) = part;
      break;
    }
    case Kind<T>::opaque: {
      const std::uint32_t to = Access<T>::input(tape, n.index, static_cast<std::uint32_t>(n.input));
      m = Access<T>::run_rule(tape, n.index, to, arg(0));
      break;
    }
  }
  if (m.rows() != n.shape.rows || m.cols() != n.shape.cols) {
    throw ShapeError("explain", n.shape, {m.rows(), m.cols()},
                     "a symbolic rule computed a matrix of another shape than it states",
                     std::source_location::current());
  }
  memo.emplace(&n, m);
  return m;
}

template <class T>
Expr<T> value_expr(std::uint32_t index, Shape shape) {
  typename Expr<T>::Node n{.kind = Kind<T>::value, .shape = shape};
  n.index = index;
  return make_expr<T>(std::move(n));
}

}  // namespace

template <class T>
Derivation<T> explain(const Var<T>& output, const Var<T>& leaf,
                      const Eigen::Ref<const Matrix<std::type_identity_t<T>>>& seed,
                      ExplainOptions options) {
  Tape<T>& tape = output.tape();
  Access<T>::check(tape, output, "explain");
  Access<T>::check(tape, leaf, "explain");
  const std::uint32_t out = output.index();
  const auto& out_node = Access<T>::node(tape, out);
  if (seed.rows() != out_node.rows || seed.cols() != out_node.cols) {
    throw ShapeError("explain", {out_node.rows, out_node.cols}, {seed.rows(), seed.cols()},
                     "the seed must have the output's shape", std::source_location::current());
  }
  Derivation<T> d;
  d.tape_ = &tape;
  d.seed_ = seed;
  d.options_ = options;
  const std::vector<bool> leads = leading_to(tape, out);
  d.names_ = names_of(tape, out, leads);
  const std::uint32_t from = leaf.index();
  d.subject_ = fmt::format("∂{}/∂{}", d.names_.at(out),
                           from <= out && leads[from] ? d.names_.at(from) : std::string(leaf.op()));

  // The nodes on a path from the leaf to the output: they lead to the output and depend on
  // the leaf.
  std::vector<bool> on_path(out + 1, false);
  if (from <= out) {
    std::vector<bool> depends(out + 1, false);
    depends[from] = true;
    for (std::uint32_t i = from + 1; i <= out; ++i) {
      const auto& n = Access<T>::node(tape, i);
      for (std::uint32_t k = 0; k < n.arity && !depends[i]; ++k) {
        depends[i] = depends[Access<T>::input(tape, i, k)];
      }
    }
    for (std::uint32_t i = from; i <= out; ++i) on_path[i] = depends[i] && leads[i];
  }
  if (!on_path[out]) {
    d.gradient_ = zero<T>(leaf.shape());
    return d;
  }

  std::vector<Expr<T>> values(out + 1);
  auto value = [&](std::uint32_t i) -> const Expr<T>& {
    if (values[i].empty()) {
      const auto& n = Access<T>::node(tape, i);
      values[i] = value_expr<T>(i, {n.rows, n.cols});
    }
    return values[i];
  };
  typename Expr<T>::Node seed_node{.kind = Kind<T>::seed, .shape = {seed.rows(), seed.cols()}};
  seed_node.unit =
      !options.keep_unit_seed && seed.rows() == 1 && seed.cols() == 1 && seed(0, 0) == T(1);
  // The output's adjoint is the seed itself, so that a unit seed simplifies away.
  std::map<std::uint32_t, Expr<T>> contributions;
  std::map<std::uint32_t, Expr<T>>& adjoints = d.adjoints_;
  for (std::uint32_t i = out + 1; i-- > from;) {
    if (!on_path[i]) continue;
    const auto& n = Access<T>::node(tape, i);
    Expr<T> adjoint;
    if (i == out) {
      adjoint = make_expr<T>(seed_node);
    } else {
      typename Expr<T>::Node a{.kind = Kind<T>::adjoint, .shape = {n.rows, n.cols}};
      a.index = i;
      a.args = {contributions.count(i) ? contributions.at(i) : zero<T>({n.rows, n.cols})};
      adjoint = make_expr<T>(std::move(a));
    }
    adjoints[i] = adjoint;
    d.path_.push_back(i);
    if (i == from) break;

    detail::SymbolicNode<T> s{
        .y = value(i), .y_value = {n.value, n.rows, n.cols}, .ybar = adjoint, .saved = n.saved};
    for (std::uint32_t k = 0; k < n.arity; ++k) {
      const std::uint32_t in = Access<T>::input(tape, i, k);
      const auto& m = Access<T>::node(tape, in);
      s.x.push_back(value(in));
      s.values.emplace_back(m.value, m.rows, m.cols);
      s.wants.push_back(on_path[in]);
    }
    auto add = [&](std::uint32_t to, const Expr<T>& e) {
      if (e.empty()) return;
      const auto& m = Access<T>::node(tape, to);
      if (e.shape() != Shape{m.rows, m.cols}) {
        throw ShapeError(Access<T>::origin(tape, i).op, {m.rows, m.cols}, e.shape(),
                         "the op's symbolic rule gives an adjoint of another shape than its input",
                         std::source_location::current());
      }
      auto [it, fresh] = contributions.try_emplace(to, e);
      if (!fresh) it->second = it->second + e;
    };
    const auto rule = n.rules->symbolic;
    std::set<std::uint32_t> done;
    for (std::uint32_t k = 0; k < n.arity; ++k) {
      const std::uint32_t in = Access<T>::input(tape, i, k);
      if (!on_path[in]) continue;
      if (rule) {
        add(in, rule(Symbolic<T>(s), static_cast<int>(k)));
      } else if (done.insert(in).second) {
        // No symbolic rule: the op's own adjoint rule, applied to C̄, for this input node.
        typename Expr<T>::Node o{
            .kind = Kind<T>::opaque, .shape = s.x[k].shape(), .args = {adjoint}};
        o.index = i;
        o.input = static_cast<int>(k);
        add(in, make_expr<T>(std::move(o)));
      }
    }
  }
  d.gradient_ = adjoints.at(from);
  return d;
}

template <class T>
Derivation<T> explain(const Var<T>& output, const Var<T>& leaf, ExplainOptions options) {
  const Shape s = output.shape();
  if (s.rows != 1 || s.cols != 1) {
    throw ShapeError("explain", s,
                     "explain(y, leaf) needs a 1x1 output; pass a seed of the output's shape",
                     std::source_location::current());
  }
  const Matrix<T> one = Matrix<T>::Ones(1, 1);
  return explain<T>(output, leaf, one, options);
}

namespace {

// The printer for a derivation's tree: adjoints used once inline, the others named.
template <class T>
Printer<T> printer_for(const Expr<T>& top, const std::map<std::uint32_t, std::string>& names,
                       const Tape<T>& tape, std::uint32_t output, const ExplainOptions& options,
                       bool name_every_adjoint) {
  std::set<const void*> inline_adjoints;
  if (!name_every_adjoint) {
    for (const auto& [node, uses] : adjoint_uses(top)) {
      if (uses == 1) inline_adjoints.insert(node);
    }
    // An adjoint that is one symbol (𝟙, a name) reads better in place than named.
    std::set<const void*> seen;
    const Printer<T> plain(names, tape, output, options, {});
    post_order(top, seen, [&](const Expr<T>& e) {
      if (e.kind() == Kind<T>::adjoint && plain.atomic(e.node().args[0])) {
        inline_adjoints.insert(&e.node());
      }
    });
    if (top.kind() == Kind<T>::adjoint) inline_adjoints.insert(&top.node());
  }
  return Printer<T>(names, tape, output, options, std::move(inline_adjoints));
}

}  // namespace

template <class T>
std::string Derivation<T>::formula() const {
  if (path_.empty()) return "0";
  const auto p = printer_for(gradient_, names_, *tape_, path_.front(), options_, false);
  return p.print(gradient_);
}

template <class T>
std::vector<std::string> Derivation<T>::where() const {
  std::vector<std::string> lines;
  if (path_.empty()) return lines;
  const auto p = printer_for(gradient_, names_, *tape_, path_.front(), options_, false);
  std::set<const void*> seen;
  post_order(gradient_, seen, [&](const Expr<T>& e) {
    if (p.named(e) && &e.node() != &gradient_.node()) {
      lines.push_back(fmt::format("{} = {}", p.print(e), p.print(e.node().args[0])));
    }
  });
  return lines;
}

template <class T>
std::vector<std::pair<std::string, std::string>> Derivation<T>::factor_rows() const {
  std::vector<std::pair<std::string, std::string>> rows;
  if (path_.empty()) return rows;
  const auto p = printer_for(gradient_, names_, *tape_, path_.front(), options_, false);
  // Children first, each node once; a derivative not spelt out is one symbol.
  std::set<const void*> seen;
  auto visit = [&](const Expr<T>& e, auto& self) -> void {
    if (!seen.insert(&e.node()).second) return;
    if (e.kind() == Kind<T>::derivative && !options_.spell_derivatives) return;
    for (const Expr<T>& a : e.node().args) self(a, self);
    const std::string shapes = operation_shapes(e);
    const std::pair<std::string, std::string> row{p.print(e), shapes};
    if (!shapes.empty() && std::find(rows.begin(), rows.end(), row) == rows.end()) {
      rows.push_back(row);
    }
  };
  visit(gradient_, visit);
  return rows;
}

template <class T>
std::string Derivation<T>::factors() const {
  return table(factor_rows(), "");
}

template <class T>
std::string Derivation<T>::text() const {
  std::string s = fmt::format("{} = {}    ({})\n", subject_, formula(), shape_text(shape()));
  for (const std::string& line : where()) s += "  where " + line + "\n";
  std::string shapes;
  for (const auto& [index, name] : names_) {
    if (adjoints_.count(index) || index == (path_.empty() ? 0 : path_.back())) {
      const auto& n = Access<T>::node(*tape_, index);
      shapes += fmt::format("{}{} {}x{}", shapes.empty() ? "" : ", ", name, n.rows, n.cols);
    }
  }
  if (!path_.empty()) s += "on the path: " + shapes + "\n";
  // Matrices an op's rule takes from its saved state (a factorisation's V, S, F, …).
  std::string saved;
  std::set<const void*> seen;
  post_order(gradient_, seen, [&](const Expr<T>& e) {
    if (e.kind() != Kind<T>::literal) return;
    const std::string entry = fmt::format("{} {}", e.node().symbol, shape_text(e.shape()));
    if (saved.find(entry) == std::string::npos) saved += (saved.empty() ? "" : ", ") + entry;
  });
  if (!saved.empty()) s += "from the ops' saved state: " + saved + "\n";
  const auto rows = factor_rows();
  if (!rows.empty()) s += "factors, innermost first:\n" + table(rows, "  ");
  return s;
}

template <class T>
std::string Derivation<T>::steps() const {
  if (path_.empty()) return fmt::format("{} = 0\n", subject_);
  const std::uint32_t out = path_.front();
  const auto p = printer_for(gradient_, names_, *tape_, out, options_, true);
  std::vector<std::pair<std::string, std::string>> rows;
  for (std::uint32_t i : path_) {
    const Expr<T>& a = adjoints_.at(i);
    const std::string lhs = bar(names_.at(i));
    if (i == out) {
      rows.emplace_back(fmt::format("{} = {}", lhs, a.unit() ? "1" : "the seed"),
                        shape_text(a.shape()));
      continue;
    }
    const Expr<T>& rhs = a.node().args[0];
    const std::string shapes = operation_shapes(rhs);
    rows.emplace_back(fmt::format("{} = {}", lhs, p.print(rhs)),
                      shapes.empty() ? shape_text(a.shape()) : shapes);
  }
  std::string s = table(rows, "");
  s += fmt::format("{} = {}\n", subject_, bar(names_.at(path_.back())));
  return s;
}

template <class T>
std::string Derivation<T>::name_of(const Var<T>& v) const {
  auto it = names_.find(v.index());
  return it == names_.end() ? std::string(v.op()) : it->second;
}

template <class T>
Matrix<T> Derivation<T>::evaluate() const {
  std::unordered_map<const void*, Matrix<T>> memo;
  return evaluate_expr(gradient_, *tape_, seed_, memo);
}

// ---------------------------------------------------------------------------------------
// Graphviz

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

template <class M>
bool finite(const M& m) {
  return m.size() == 0 || m.allFinite();
}

}  // namespace

template <class T>
std::string to_dot(const Var<T>& output, const DotOptions& options) {
  const Tape<T>& tape = output.tape();
  Access<T>::check(tape, output, "to_dot");
  const std::uint32_t out = output.index();
  const std::vector<bool> leads = leading_to(tape, out);
  const auto names = names_of(tape, out, leads);
  std::string dot =
      "digraph tape {\n  rankdir=BT;\n  node [fontname=\"Helvetica\", fontsize=11];\n";
  if (!options.title.empty())
    dot += fmt::format("  label=\"{}\";\n  labelloc=t;\n", escape(options.title));
  for (std::uint32_t i = 0; i <= out; ++i) {
    if (!leads[i]) continue;
    const auto& n = Access<T>::node(tape, i);
    const auto& origin = Access<T>::origin(tape, i);
    const Eigen::Map<const Matrix<T>> value(n.value, n.rows, n.cols);
    const bool adjoint = n.adjoint && n.has_adjoint;
    const Eigen::Map<const Matrix<T>> adj(adjoint ? n.adjoint : n.value, n.rows, n.cols);
    const bool bad = !finite(value) || (adjoint && !finite(adj));
    std::string label = n.arity == 0
                            ? fmt::format("{}\n{} {}x{}", names.at(i), origin.op, n.rows, n.cols)
                            : fmt::format("{} = {}\n{}x{}", names.at(i), origin.op, n.rows, n.cols);
    if (options.norms) {
      label += fmt::format("\n‖value‖ {:.4g}", static_cast<double>(value.norm()));
      if (adjoint) label += fmt::format("\n‖adjoint‖ {:.4g}", static_cast<double>(adj.norm()));
    }
    if (bad) {
      label += fmt::format("\nnot finite: {}:{}", origin.where.file_name(), origin.where.line());
    }
    std::string style;
    if (n.arity == 0) {
      if (is(origin.op, "variable")) {
        style = "shape=ellipse, style=filled, fillcolor=\"#cfe2f3\"";
      } else if (is(origin.op, "parameter")) {
        style = "shape=ellipse, style=filled, fillcolor=\"#d9ead3\"";
      } else {
        style = "shape=ellipse, style=\"filled,dashed\", fillcolor=\"#eeeeee\"";
      }
    } else {
      style = "shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\"";
    }
    if (bad) style += ", fillcolor=\"#f4a6a6\", color=red, penwidth=2";
    if (i == out) style += ", peripheries=2";
    dot += fmt::format("  n{} [label=\"{}\", {}];\n", i, escape(label), style);
  }
  for (std::uint32_t i = 0; i <= out; ++i) {
    if (!leads[i]) continue;
    const auto& n = Access<T>::node(tape, i);
    for (std::uint32_t k = 0; k < n.arity; ++k) {
      const std::uint32_t in = Access<T>::input(tape, i, k);
      if (n.arity > 1) {
        dot += fmt::format("  n{} -> n{} [label=\"{}\", fontsize=9];\n", in, i, k);
      } else {
        dot += fmt::format("  n{} -> n{};\n", in, i);
      }
    }
  }
  dot += "}\n";
  return dot;
}

#define AD_EXPLAIN_INSTANTIATE(T)                                                                  \
  template class Derivation<T>;                                                                    \
  template Derivation<T> explain(const Var<T>&, const Var<T>&, ExplainOptions);                    \
  template Derivation<T> explain(const Var<T>&, const Var<T>&, const Eigen::Ref<const Matrix<T>>&, \
                                 ExplainOptions);                                                  \
  template std::string to_dot(const Var<T>&, const DotOptions&);

AD_EXPLAIN_INSTANTIATE(float)
AD_EXPLAIN_INSTANTIATE(double)
#undef AD_EXPLAIN_INSTANTIATE

}  // namespace ad
