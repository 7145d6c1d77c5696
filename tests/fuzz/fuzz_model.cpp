// The model reader: nn::load into a float and a double 3-4-2 network, and nn::load_model,
// which builds a model from the file's architecture (format version 2), in both types. The
// first byte's low bit asks the harness to write a correct CRC-32 over the rest before
// loading, so that the fuzzer gets past the checksum to what load does after it; the rest is
// the file. Every refusal must be an nn::FileError, and a refused load must leave the model
// unchanged.

#include "fuzz_support.hpp"

#include <ad/nn/error.hpp>
#include <ad/nn/module.hpp>
#include <ad/nn/serialize.hpp>

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <random>
#include <span>
#include <vector>

namespace {

template <class T>
void load_into_network(const std::filesystem::path& file) {
  static ad::nn::Sequential<T> model = [] {
    std::mt19937_64 rng(1);
    const Eigen::Index sizes[] = {3, 4, 2};
    return ad::nn::mlp<T>(sizes, ad::nn::Activation::tanh, rng);
  }();
  std::vector<ad::Matrix<T>> before;
  for (ad::Parameter<T>* p : model.parameters()) before.push_back(p->value());
  try {
    ad::nn::load(model, file);
  } catch (const ad::nn::FileError&) {
    std::size_t i = 0;
    for (ad::Parameter<T>* p : model.parameters()) {
      // Bit for bit: a loaded model may hold NaNs, which compare unequal to themselves.
      const ad::Matrix<T>& old = before[i++];
      if (p->value().size() != old.size() ||
          std::memcmp(p->value().data(), old.data(),
                      sizeof(T) * static_cast<std::size_t>(old.size())) != 0) {
        ad_fuzz::ScratchFile::fail("a refused load changed the model");
      }
    }
  }
}

// A model built from the file must be usable: it is run on a batch of zeros.
template <class T>
void load_a_model(const std::filesystem::path& file) {
  try {
    ad::nn::Sequential<T> model = ad::nn::load_model<T>(file);
    if (const auto in = model.input_features()) {
      ad::Tape<T> tape;
      model(tape.constant(ad::Matrix<T>::Zero(*in, 2)));
    }
  } catch (const ad::nn::FileError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ad_fuzz::ScratchFile file("model");
  if (size < 1) return 0;
  std::vector<std::uint8_t> bytes(data + 1, data + size);
  if ((data[0] & 1) && bytes.size() >= 4) {
    const std::size_t body = bytes.size() - 4;
    const auto crc = static_cast<std::uint32_t>(crc32(0L, bytes.data(), static_cast<uInt>(body)));
    for (int k = 0; k < 4; ++k) bytes[body + k] = static_cast<std::uint8_t>(crc >> (8 * k));
  }
  try {
    const auto& path = file.write(bytes);
    load_into_network<float>(path);
    load_into_network<double>(path);
    load_a_model<float>(path);
    load_a_model<double>(path);
  } catch (const std::exception& e) {
    ad_fuzz::finding("model reader threw", e);
  }
  return 0;
}
