// The matrix product for large operands, in the classic blocked layout (Goto and van de Geijn,
// "Anatomy of high-performance matrix multiplication", 2008):
//
//   for each block of columns of B and C          (block_cols, kept in the last-level cache)
//     for each slice of the inner dimension       (depth)
//       pack B's slice: slivers of `cols` columns, each stored row by row
//       for each block of rows of A and C         (block_rows, kept in L2)
//         pack A's slice: slivers of `rows` rows, each stored column by column
//         for each B sliver (stays in L1) and each A sliver:
//           kernel: C tile (rows x cols) += A sliver · B sliver
//
// The kernel keeps its tile of C in registers for the whole slice: each inner step loads two
// packets of A, broadcasts `cols` elements of B and does 2·cols fused multiply-adds. Packing
// makes every operand layout (transposed or not) one contiguous stream for the kernel, and pads
// the edges with zeros so the kernel always runs on a full tile.
//
// Written with Eigen's packet primitives (pload, pset1, pmadd), so it compiles to AVX-512, AVX2
// or SSE alike; product() uses it where it measured fastest (packed_products).

#include <ad/kernels/product.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>

namespace ad::kernels {
namespace {

namespace ei = Eigen::internal;
using Eigen::Index;

template <class T>
struct Kernel {
  using Packet = typename ei::packet_traits<T>::type;
  static constexpr int packet = ei::unpacket_traits<Packet>::size;
  static constexpr int row_packets = 2;
  // Tile rows x cols of C in registers: 2 x 12 packets with 32 vector registers (8 left for
  // A and B), 2 x 6 with 16.
  static constexpr Index rows = row_packets * packet;
  static constexpr Index cols = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 12 : 6;
  static constexpr Index depth = 256;
  static constexpr Index block_rows = 8 * rows;
  static constexpr Index block_cols = 170 * cols;

  // C tile (= or +=) A sliver · B sliver, `steps` steps: a holds `rows` elements per step and
  // b `cols`, both packed; C's columns are c_stride apart.
  static void tile(Index steps, const T* a, const T* b, T* c, Index c_stride, bool accumulate) {
    Packet sum[row_packets][cols];
    for (auto& column : sum) {
      for (Packet& s : column) s = ei::pset1<Packet>(T(0));
    }
    for (Index p = 0; p < steps; ++p, a += rows, b += cols) {
      Packet a_part[row_packets];
      for (int i = 0; i < row_packets; ++i) a_part[i] = ei::pload<Packet>(a + i * packet);
      for (int j = 0; j < cols; ++j) {
        const Packet b_element = ei::pset1<Packet>(b[j]);
        for (int i = 0; i < row_packets; ++i)
          sum[i][j] = ei::pmadd(a_part[i], b_element, sum[i][j]);
      }
    }
    for (int j = 0; j < cols; ++j) {
      for (int i = 0; i < row_packets; ++i) {
        T* out = c + j * c_stride + i * packet;
        ei::pstoreu(out, accumulate ? ei::padd(ei::ploadu<Packet>(out), sum[i][j]) : sum[i][j]);
      }
    }
  }
};

// pack() of a full sliver stored along the inner dimension (B, or a transposed A), whose
// packed order runs across it: square blocks of q x q elements, each loaded as q packets along
// the inner dimension and transposed in registers. Element by element, this packing took a
// tenth of the time of a 128x256 by 256x128 product.
template <Index Width, class T>
void pack_across(T* dst, const Strided<T>& x, Index depth) {
  // Blocks of 4: a 12-column sliver divides into 4s but not 8s (2 for SSE's f64, 1 unvectorised).
  using Packet = typename ei::find_best_packet<T, 4>::type;
  constexpr int q = ei::unpacket_traits<Packet>::size;
  Index p = 0;
  if constexpr (Width % q == 0) {  // (without AVX-512, 6-column slivers with q = 4 are not)
    for (; p + q <= depth; p += q) {
      for (Index i = 0; i < Width; i += q) {
        ei::PacketBlock<Packet, q> block;
        for (int k = 0; k < q; ++k) block.packet[k] = ei::ploadu<Packet>(x.from(i + k, p).data);
        ei::ptranspose(block);
        for (int k = 0; k < q; ++k) ei::pstoreu(dst + (p + k) * Width + i, block.packet[k]);
      }
    }
  }
  for (; p < depth; ++p) {
    for (Index i = 0; i < Width; ++i) dst[p * Width + i] = x(i, p);
  }
}

// dst[p·Width + i] = x(i, p) for i < count, p < depth, and 0 for count ≤ i < Width: a sliver of
// A (Width = the tile's rows), or of Bᵀ (Width = its columns).
template <Index Width, class T>
void pack(T* dst, const Strided<T>& x, Index count, Index depth) {
  if (count < Width) std::fill_n(dst, depth * Width, T(0));
  if (x.row_step == 1 && count == Width) {
    // A fixed-size copy is a few vector moves; std::copy_n became a call to memmove per step
    // of depth, 5 % of a training step.
    using Column = Eigen::Matrix<T, int(Width), 1>;
    for (Index p = 0; p < depth; ++p) {
      Eigen::Map<Column>(dst + p * Width) = Eigen::Map<const Column>(x.data + p * x.col_step);
    }
  } else if (x.col_step == 1 && count == Width) {
    pack_across<Width>(dst, x, depth);
  } else {
    for (Index i = 0; i < count; ++i) {
      for (Index p = 0; p < depth; ++p) dst[p * Width + i] = x(i, p);
    }
  }
}

// Packing memory, kept by each thread from one product to the next: after the first training
// step, products allocate nothing.
template <class T>
class Workspace {
 public:
  T* get(Index count) {
    const auto n = static_cast<std::size_t>(count);
    if (n > size_) {
      data_.reset(static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64})));
      size_ = n;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(T* p) const { ::operator delete (p, std::align_val_t{64}); }
  };
  std::unique_ptr<T, Free> data_;
  std::size_t size_ = 0;
};

Index round_up(Index n, Index step) { return (n + step - 1) / step * step; }

}  // namespace

template <class T>
PackedBlocking packed_blocking() {
  using K = Kernel<T>;
  return {K::rows, K::cols, K::depth, K::block_rows, K::block_cols};
}

template <class T>
void packed_product(T* c, Index c_stride, Index rows, Index cols, const Strided<T>& a,
                    const Strided<T>& b, Index inner, bool accumulate) {
  using K = Kernel<T>;
  thread_local Workspace<T> a_space, b_space;
  // Slices of equal depth: 784 = 4 x 196 rather than 3 x 256 + 16 (a thin slice costs a full
  // pass over C).
  const Index slices = (inner + K::depth - 1) / K::depth;
  const Index depth = (inner + slices - 1) / slices;
  T* a_packed = a_space.get(round_up(std::min(rows, K::block_rows), K::rows) * depth);
  T* b_packed = b_space.get(round_up(std::min(cols, K::block_cols), K::cols) * depth);
  const Strided<T> b_transposed{b.data, b.col_step, b.row_step};
  alignas(64) T edge[K::rows * K::cols];

  for (Index j0 = 0; j0 < cols; j0 += K::block_cols) {
    const Index block_cols = std::min(K::block_cols, cols - j0);
    for (Index p0 = 0; p0 < inner; p0 += depth) {
      const Index slice = std::min(depth, inner - p0);
      const bool add = accumulate || p0 > 0;
      for (Index j = 0; j < block_cols; j += K::cols) {
        pack<K::cols>(b_packed + j * slice, b_transposed.from(j0 + j, p0),
                      std::min(K::cols, block_cols - j), slice);
      }
      for (Index i0 = 0; i0 < rows; i0 += K::block_rows) {
        const Index block_rows = std::min(K::block_rows, rows - i0);
        for (Index i = 0; i < block_rows; i += K::rows) {
          pack<K::rows>(a_packed + i * slice, a.from(i0 + i, p0), std::min(K::rows, block_rows - i),
                        slice);
        }
        for (Index j = 0; j < block_cols; j += K::cols) {
          const Index tile_cols = std::min(K::cols, block_cols - j);
          for (Index i = 0; i < block_rows; i += K::rows) {
            const Index tile_rows = std::min(K::rows, block_rows - i);
            T* out = c + (i0 + i) + (j0 + j) * c_stride;
            const T* a_sliver = a_packed + i * slice;
            const T* b_sliver = b_packed + j * slice;
            if (tile_rows == K::rows && tile_cols == K::cols) {
              K::tile(slice, a_sliver, b_sliver, out, c_stride, add);
              continue;
            }
            // An edge tile: computed whole into `edge`, of which the part inside C is kept.
            K::tile(slice, a_sliver, b_sliver, edge, K::rows, false);
            for (Index jj = 0; jj < tile_cols; ++jj) {
              for (Index ii = 0; ii < tile_rows; ++ii) {
                T& e = out[ii + jj * c_stride];
                e = (add ? e : T(0)) + edge[ii + jj * K::rows];
              }
            }
          }
        }
      }
    }
  }
}

template PackedBlocking packed_blocking<float>();
template PackedBlocking packed_blocking<double>();
template void packed_product(float*, Index, Index, Index, const Strided<float>&,
                             const Strided<float>&, Index, bool);
template void packed_product(double*, Index, Index, Index, const Strided<double>&,
                             const Strided<double>&, Index, bool);

}  // namespace ad::kernels
