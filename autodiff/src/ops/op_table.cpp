#include <ad/op_table.hpp>

#include "support.hpp"

#include <vector>

namespace ad {

std::span<const OpInfo> op_table() {
  static const std::vector<OpInfo> rows = [] {
    std::vector<OpInfo> all;
    for (auto family :
         {detail::linear_ops, detail::broadcast_ops, detail::elementwise_ops, detail::math_ops,
          detail::reduce_ops, detail::axis_ops, detail::algebra_ops, detail::structure_ops,
          detail::softmax_ops, detail::losses_ops, detail::cholesky_ops, detail::decompositions_ops,
          detail::matrix_functions_ops}) {
      const std::span<const OpInfo> part = family();
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }();
  return rows;
}

}  // namespace ad
