#include <ad/expression.hpp>

#include <cstring>
#include <map>
#include <vector>

namespace ad {
namespace {

template <class T>
class Printer {
 public:
  explicit Printer(const Var<T>& output) {
    visit(output);
    int variables = 0;
    int parameters = 0;
    int constants = 0;
    int shared = 0;
    // std::map iterates in tape order, so names follow the order of recording.
    for (auto& [index, node] : nodes_) {
      if (node.var.arity() == 0) {
        const char* op = node.var.op();
        if (std::strcmp(op, "variable") == 0) {
          node.name = fmt::format("x{}", variables++);
        } else if (std::strcmp(op, "parameter") == 0) {
          node.name = fmt::format("p{}", parameters++);
        } else {
          node.name = fmt::format("c{}", constants++);
        }
        node.name = fmt::format("{}:{}", node.name, to_string(node.var.shape()));
      } else if (node.uses > 1) {
        node.name = fmt::format("t{}", shared++);
        definitions_ += fmt::format("{} = {}\n", node.name, inline_form(node.var));
      }
    }
    const Node& out = nodes_.at(output.index());
    text_ = definitions_ + (out.name.empty() ? inline_form(output) : out.name);
  }

  const std::string& text() const { return text_; }

 private:
  struct Node {
    Var<T> var;
    int uses = 0;
    std::string name;
  };

  void visit(const Var<T>& v) {
    auto [it, fresh] = nodes_.try_emplace(v.index(), Node{.var = v, .uses = 0, .name = {}});
    ++it->second.uses;
    if (!fresh) return;
    for (int i = 0; i < v.arity(); ++i) visit(v.input(i));
  }

  std::string inline_form(const Var<T>& v) const {
    std::string s = fmt::format("{}(", v.op());
    for (int i = 0; i < v.arity(); ++i) {
      const Node& in = nodes_.at(v.input(i).index());
      if (i > 0) s += ", ";
      s += in.name.empty() ? inline_form(in.var) : in.name;
    }
    return fmt::format("{}):{}", s, to_string(v.shape()));
  }

  std::map<std::uint32_t, Node> nodes_;
  std::string definitions_;
  std::string text_;
};

}  // namespace

template <class T>
std::string to_string(const Expression<T>& e) {
  if (e.output.empty()) return "(empty)";
  return Printer<T>(e.output).text();
}

template std::string to_string(const Expression<float>&);
template std::string to_string(const Expression<double>&);

}  // namespace ad
