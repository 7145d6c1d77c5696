#pragma once
// Data sets on 2 MiB pages (huge_pages.cpp).

#include <cstddef>

namespace ad::nn::detail {

// Asks the kernel for 2 MiB pages over the 2 MiB-aligned part of [data, data + bytes), before
// anything is written there. Only advice: where the kernel has no transparent huge pages
// nothing changes.
void advise_huge_pages(void* data, std::size_t bytes);

}  // namespace ad::nn::detail
