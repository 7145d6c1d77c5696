// The IDX reader: read_idx on the whole input, and load_idx on it split into an images and
// a labels file (the first two bytes, little-endian, are the images file's length; the
// rest after it is the labels file). Either file may be gzip. Every refusal must be an
// nn::FileError (data.hpp: "never a crash or a huge allocation").

#include "fuzz_support.hpp"

#include <ad/nn/data.hpp>
#include <ad/nn/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>

namespace {

void read_one(const std::filesystem::path& file, std::size_t max_bytes) {
  try {
    const ad::nn::IdxArray array = ad::nn::read_idx(file, max_bytes);
    // Touch every element: a size that disagrees with the dimensions shows up here.
    unsigned sum = 0;
    for (const std::uint8_t b : array.data) sum += b;
    if (array.dims.empty()) ad_fuzz::ScratchFile::fail("read_idx returned no dimensions");
    static_cast<void>(sum);
  } catch (const ad::nn::FileError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ad_fuzz::ScratchFile images_file("idx-images"), labels_file("idx-labels");
  const std::span<const std::uint8_t> input(data, size);
  try {
    const auto& whole = images_file.write(input);
    read_one(whole, std::size_t{1} << 32);
    read_one(whole, 64);  // a small limit: the header checks against it
    if (size < 2) return 0;
    const std::size_t images_length =
        std::min<std::size_t>(data[0] | (std::size_t{data[1]} << 8), size - 2);
    const auto& images = images_file.write(input.subspan(2, images_length));
    const auto& labels = labels_file.write(input.subspan(2 + images_length));
    try {
      const ad::nn::Dataset<float> set = ad::nn::load_idx<float>(images, labels);
      if (set.x.cols() != static_cast<Eigen::Index>(set.labels.size())) {
        ad_fuzz::ScratchFile::fail("load_idx: images and labels disagree in count");
      }
      static_cast<void>(set.x.sum());
    } catch (const ad::nn::FileError&) {
    }
  } catch (const std::exception& e) {
    ad_fuzz::finding("IDX reader threw", e);
  }
  return 0;
}
