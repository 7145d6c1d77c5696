#pragma once
// Errors the engine throws. Every message names what went wrong, the shapes involved and
// the caller's source line, so that a user can act on it without a debugger.

#include <ad/config.hpp>
#include <source_location>
#include <span>
#include <stdexcept>
#include <string>

namespace ad {

// Rows and columns of a matrix; prints as "2x3".
struct Shape {
  Eigen::Index rows = 0;
  Eigen::Index cols = 0;
  friend bool operator==(const Shape&, const Shape&) = default;
};

std::string to_string(Shape s);

// "file.cpp:12" of a source location, for messages.
std::string to_string(const std::source_location& where);

// Misuse of the engine: a handle from another tape or from before a rewind, a backward
// from a non-scalar output, a seed of the wrong shape.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An op was given inputs whose shapes do not fit. The message names the op, both shapes,
// why they do not fit, and where the op was called.
class ShapeError : public Error {
 public:
  ShapeError(const char* op, Shape a, Shape b, const std::string& why,
             const std::source_location& where);
  ShapeError(const char* op, Shape a, const std::string& why, const std::source_location& where);
  // Any number of input shapes (a custom op's).
  ShapeError(const char* op, std::span<const Shape> shapes, const std::string& why,
             const std::source_location& where);
};

// A value outside an op's domain (a singular matrix, a NaN where none may be).
class NumericError : public Error {
 public:
  using Error::Error;
};

}  // namespace ad
