// The CSV reader. The first byte chooses the options (delimiter, label column by index or
// by name); the rest is the file. Every refusal must be an nn::FileError.

#include "fuzz_support.hpp"

#include <ad/nn/data.hpp>
#include <ad/nn/error.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ad_fuzz::ScratchFile file("csv");
  if (size < 1) return 0;
  static constexpr char kDelimiters[] = {',', ';', '\t', ' '};
  static constexpr int kLabelIndices[] = {-1, 0, 1, -2, 2, -100, 2147483647, -2147483647 - 1};
  ad::nn::CsvOptions options;
  options.delimiter = kDelimiters[data[0] & 3];
  options.label_index = kLabelIndices[(data[0] >> 2) & 7];
  if (data[0] & 0x20) options.label_name = "label";
  if (data[0] & 0x40) options.max_bytes = 16;
  try {
    const auto& path = file.write(std::span(data + 1, size - 1));
    try {
      const ad::nn::Dataset<double> set = ad::nn::read_csv<double>(path, options);
      if (set.y.cols() != set.x.cols()) ad_fuzz::ScratchFile::fail("read_csv: x and y disagree");
      if (!set.labels.empty() && static_cast<Eigen::Index>(set.labels.size()) != set.size()) {
        ad_fuzz::ScratchFile::fail("read_csv: a label count unlike the sample count");
      }
      if (!set.labels.empty()) static_cast<void>(set.classes());
      static_cast<void>(set.x.sum());
    } catch (const ad::nn::FileError&) {
    }
  } catch (const std::exception& e) {
    ad_fuzz::finding("CSV reader threw", e);
  }
  return 0;
}
