// A training epoch reads a data set's columns in random order: with 4 KiB pages each column
// cost a page walk, and on this project's virtual machine the first epoch took 0.1 s longer
// than the next (its walks missed every cache), and a run of train_mlp took 72,000 page faults
// instead of 19,000 (benchmarks/RESULTS.md). The IDX reader and Dataset::subset (so also
// Dataset::split) advise their storage before filling it.

#include "huge_pages.hpp"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ad::nn::detail {

void advise_huge_pages(void* data, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t huge = std::uintptr_t{2} << 20;
  const auto start = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t begin = (start + huge - 1) & ~(huge - 1);
  const std::uintptr_t end = (start + bytes) & ~(huge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

}  // namespace ad::nn::detail
