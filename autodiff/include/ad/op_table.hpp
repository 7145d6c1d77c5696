#pragma once
// The op table as data. Each built-in op's row is written once, inside the op's definition
// in src/ops/ (its `info`), beside its value and adjoint rules; docs/ops.md's table is
// generated from these rows, and the tests check the headers' comments and their own
// coverage against them (tests/op_table.cpp).

#include <span>
#include <string_view>

namespace ad {

// One row of the op table, in the notation of docs/design.md (Ā is the adjoint of A).
struct OpInfo {
  std::string_view name = {};     // the function that records it ("matmul")
  std::string_view also = {};     // other spellings or the variant this row covers (markdown)
  std::string_view value = {};    // "C = A B"
  std::string_view adjoint = {};  // "Ā += C̄ Bᵀ ; B̄ += Aᵀ C̄"
  std::string_view domain = {};   // "total", "IEEE (…)", "NumericError if …"
};

// Every built-in op's rows, family by family (an op with two forms has two rows).
std::span<const OpInfo> op_table();

}  // namespace ad
