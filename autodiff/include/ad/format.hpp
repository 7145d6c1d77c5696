#pragma once
// fmt formatters for shapes, Eigen matrices and Var.
//
//   fmt::print("{}", shape)          2x3
//   fmt::print("{:.4f}", matrix)     [[1.0000, 2.0000], [3.0000, 4.0000]]
//   fmt::print("{}", var)            matmul 2x1 [[0.5], [-1.5]]
//
// A format spec for a matrix or Var applies to each element.

#include <ad/tape.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace ad::detail {

// The elements' format spec, parsed from "{:spec}", applied to each element. Kept in a
// fixed array: parse() runs at compile time, where clang cannot build a std::string.
struct ElementSpec {
  std::array<char, 32> spec{'{', '}'};
  std::size_t length = 2;

  constexpr auto parse(fmt::format_parse_context& ctx) {
    auto it = ctx.begin();
    auto end = it;
    while (end != ctx.end() && *end != '}') ++end;
    if (end == it) return end;
    if (static_cast<std::size_t>(end - it) + 3 > spec.size()) {
      throw fmt::format_error("a matrix's element format spec is too long");
    }
    length = 0;
    spec[length++] = '{';
    spec[length++] = ':';
    for (auto c = it; c != end; ++c) spec[length++] = *c;
    spec[length++] = '}';
    return end;
  }

  template <class Derived, class Out>
  Out format(const Eigen::DenseBase<Derived>& m, Out out) const {
    *out++ = '[';
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      if (i > 0) out = fmt::format_to(out, ", ");
      *out++ = '[';
      for (Eigen::Index j = 0; j < m.cols(); ++j) {
        if (j > 0) out = fmt::format_to(out, ", ");
        out = fmt::format_to(out, fmt::runtime(std::string_view(spec.data(), length)), m(i, j));
      }
      *out++ = ']';
    }
    *out++ = ']';
    return out;
  }
};

template <class M>
constexpr bool is_eigen_matrix = std::is_base_of_v<Eigen::MatrixBase<M>, M>;

}  // namespace ad::detail

// Eigen's dense types look like ranges to fmt; they are formatted as matrices instead.
template <class S, int R, int C, int O, int MR, int MC>
struct fmt::is_range<Eigen::Matrix<S, R, C, O, MR, MC>, char> : std::false_type {};
template <class P, int O, class S>
struct fmt::is_range<Eigen::Map<P, O, S>, char> : std::false_type {};

template <class M>
struct fmt::formatter<M, char, std::enable_if_t<ad::detail::is_eigen_matrix<M>>>
    : ad::detail::ElementSpec {
  template <class Ctx>
  auto format(const M& m, Ctx& ctx) const {
    return ElementSpec::format(m, ctx.out());
  }
};

template <>
struct fmt::formatter<ad::Shape> : fmt::formatter<std::string> {
  template <class Ctx>
  auto format(ad::Shape s, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(ad::to_string(s), ctx);
  }
};

template <class T>
struct fmt::formatter<ad::Var<T>> : ad::detail::ElementSpec {
  template <class Ctx>
  auto format(const ad::Var<T>& v, Ctx& ctx) const {
    auto out = fmt::format_to(ctx.out(), "{} {} ", v.op(), ad::to_string(v.shape()));
    return ElementSpec::format(v.value(), out);
  }
};
