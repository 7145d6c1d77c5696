#include <ad/error.hpp>

#include <fmt/format.h>

#include <filesystem>

namespace ad {

std::string to_string(Shape s) { return fmt::format("{}x{}", s.rows, s.cols); }

std::string to_string(const std::source_location& where) {
  return fmt::format("{}:{}", std::filesystem::path(where.file_name()).filename().string(),
                     where.line());
}

namespace {

// "2x3", "2x3 and 3x4", "2x3, 3x4 and 4x4".
std::string list(std::span<const Shape> shapes) {
  std::string text;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    if (i > 0) text += i + 1 == shapes.size() ? " and " : ", ";
    text += to_string(shapes[i]);
  }
  return text;
}

}  // namespace

ShapeError::ShapeError(const char* op, Shape a, Shape b, const std::string& why,
                       const std::source_location& where)
    : Error(fmt::format("{}: shapes {} and {} do not fit: {} (at {})", op, to_string(a),
                        to_string(b), why, to_string(where))) {}

ShapeError::ShapeError(const char* op, Shape a, const std::string& why,
                       const std::source_location& where)
    : Error(fmt::format("{}: shape {} does not fit: {} (at {})", op, to_string(a), why,
                        to_string(where))) {}

ShapeError::ShapeError(const char* op, std::span<const Shape> shapes, const std::string& why,
                       const std::source_location& where)
    : Error(fmt::format("{}: {} {} {} not fit: {} (at {})", op,
                        shapes.size() == 1 ? "shape" : "shapes", list(shapes),
                        shapes.size() == 1 ? "does" : "do", why, to_string(where))) {}

namespace detail {

// Thrown by eigen_assert in debug builds (see ad/config.hpp).
void eigen_assertion_failed(const char* condition, const char* file, int line) {
  throw Error(fmt::format("Eigen assertion failed: {} ({}:{})", condition,
                          std::filesystem::path(file).filename().string(), line));
}

}  // namespace detail
}  // namespace ad
