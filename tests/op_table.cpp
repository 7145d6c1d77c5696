// The op table's one source is each op's `info` (ad::op_table()). This program checks, by
// content, the two places that restate it, and can regenerate the one that is generated:
//
//   op_table --check ROOT   fails unless docs/ops.md's table is exactly the generated one,
//                           and the comment above each op's declaration in ad/ops.hpp or
//                           ad/losses.hpp states its value and adjoint rules as its rows do
//   op_table --write ROOT   rewrites docs/ops.md's table from the rows
//
// ctest runs the check as `op_table`.

#include <ad/op_table.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A table cell: '|' would end it, so it is escaped.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string generated_table() {
  std::string table = "| op | value | adjoint rules | domain |\n|---|---|---|---|\n";
  for (const ad::OpInfo& op : ad::op_table()) {
    const std::string also = op.also.empty() ? "" : fmt::format(" ({})", op.also);
    table += fmt::format("| `{}`{} | {} | {} | {} |\n", op.name, also, cell(op.value),
                         cell(op.adjoint), cell(op.domain));
  }
  return table;
}

// Where the table sits in docs/ops.md: from its header line to the first line that is not
// a table row.
struct TableSpan {
  std::size_t begin = std::string::npos;
  std::size_t end = std::string::npos;
};

TableSpan find_table(const std::string& doc) {
  TableSpan span;
  span.begin = doc.find("| op | value | adjoint rules | domain |\n");
  if (span.begin == std::string::npos) return span;
  span.end = span.begin;
  while (span.end < doc.size() && doc[span.end] == '|') span.end = doc.find('\n', span.end) + 1;
  return span;
}

// Runs of white space as one space, so that a comment's layout does not matter.
std::string squeeze(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  return out;
}

// For each op declared in a header, the comments directly above its declarations (their
// text without the slashes), joined.
void collect_declarations(const std::string& header, std::map<std::string, std::string>& found) {
  std::vector<std::string> lines;
  std::istringstream in(header);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const std::regex declaration("^Var<T> ([a-z_0-9]+)\\(");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    if (!std::regex_search(lines[i], m, declaration)) continue;
    std::size_t k = i;
    if (k > 0 && lines[k - 1].starts_with("template")) --k;
    std::string comment;
    while (k > 0 && lines[k - 1].starts_with("//")) {
      --k;
      comment = lines[k].substr(2) + "\n" + comment;
    }
    found[m[1]] += comment + "\n";
  }
}

int check(const std::string& root) {
  int failures = 0;
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "%s\n", what.c_str());
    ++failures;
  };

  const std::string doc = read(root + "/docs/ops.md");
  const TableSpan span = find_table(doc);
  if (span.begin == std::string::npos) {
    fail("docs/ops.md: no table header '| op | value | adjoint rules | domain |'");
  } else if (doc.substr(span.begin, span.end - span.begin) != generated_table()) {
    fail("docs/ops.md: the table differs from the ops' rows; run `op_table --write ROOT`");
  }

  std::map<std::string, std::string> declared;
  for (const char* header : {"ops.hpp", "losses.hpp"}) {
    collect_declarations(read(root + "/autodiff/include/ad/" + header), declared);
  }
  std::set<std::string> in_table;
  for (const ad::OpInfo& op : ad::op_table()) {
    in_table.insert(std::string(op.name));
    const auto it = declared.find(std::string(op.name));
    if (it == declared.end()) {
      fail(fmt::format("{}: in the op table but declared in neither ops.hpp nor losses.hpp",
                       op.name));
      continue;
    }
    const std::string comment = squeeze(it->second);
    for (std::string_view rule : {op.value, op.adjoint}) {
      if (comment.find(squeeze(rule)) == std::string::npos) {
        fail(fmt::format("{}: the comment above its declaration does not state '{}'", op.name,
                         rule));
      }
    }
  }
  for (const auto& [name, comment] : declared) {
    if (!in_table.count(name))
      fail(fmt::format("{}: declared but has no row in the op table", name));
  }
  if (failures == 0)
    fmt::print("op table: {} rows, docs/ops.md and headers agree\n", in_table.size());
  return failures == 0 ? 0 : 1;
}

int write(const std::string& root) {
  const std::string path = root + "/docs/ops.md";
  std::string doc = read(path);
  const TableSpan span = find_table(doc);
  if (span.begin == std::string::npos) {
    std::fprintf(stderr, "%s: no table header to replace\n", path.c_str());
    return 1;
  }
  doc.replace(span.begin, span.end - span.begin, generated_table());
  std::ofstream(path, std::ios::binary) << doc;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "--check" && mode != "--write") {
    std::fputs("usage: op_table --check|--write ROOT\n", stderr);
    return 2;
  }
  try {
    return mode == "--check" ? check(argv[2]) : write(argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "op_table: %s\n", e.what());
    return 1;
  }
}
