// Saving and loading parameters; the format is described in ad/nn/serialize.hpp.

#include <ad/nn/error.hpp>
#include <ad/nn/serialize.hpp>

#include "files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>
#include <span>

namespace ad::nn {
namespace {

// The format is little-endian; values are copied as they lie in memory.
static_assert(std::endian::native == std::endian::little, "save/load assume a little-endian host");

constexpr char kMagic[8] = {'A', 'D', 'N', 'N', 'M', 'O', 'D', 'L'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeader = 20;  // magic, version, scalar size, parameter count
constexpr std::size_t kChecksum = 4;

template <class V>
void put(std::vector<unsigned char>& out, V value) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&value);
  out.insert(out.end(), bytes, bytes + sizeof(V));
}

std::uint32_t get_u32(const unsigned char* in, std::size_t offset) {
  std::uint32_t v = 0;
  std::memcpy(&v, in + offset, sizeof v);
  return v;
}

const char* scalar_name(std::uint32_t size) {
  return size == 4 ? "float32" : size == 8 ? "float64" : "an unknown scalar type";
}

}  // namespace

template <class T>
void save(Layer<T>& model, const std::filesystem::path& path) {
  const auto parameters = model.parameters();
  std::vector<unsigned char> bytes(std::begin(kMagic), std::end(kMagic));
  put(bytes, kVersion);
  put(bytes, static_cast<std::uint32_t>(sizeof(T)));
  put(bytes, static_cast<std::uint32_t>(parameters.size()));
  for (const Parameter<T>* p : parameters) {
    put(bytes, static_cast<std::uint32_t>(p->rows()));
    put(bytes, static_cast<std::uint32_t>(p->cols()));
  }
  for (const Parameter<T>* p : parameters) {
    const auto* data = reinterpret_cast<const unsigned char*>(p->value().data());
    bytes.insert(bytes.end(), data, data + static_cast<std::size_t>(p->size()) * sizeof(T));
  }
  put(bytes, detail::crc32_of(bytes));
  detail::write_atomically(path, bytes);
}

template <class T>
void load(Layer<T>& model, const std::filesystem::path& path) {
  const detail::InputFile in(path);
  const std::uintmax_t size = in.size();
  // The header and the shapes are read and checked first: the parameters are read only once
  // the file's size is exactly what this model needs.
  unsigned char header[kHeader] = {};
  in.read_at(0,
             std::span(header, static_cast<std::size_t>(std::min<std::uintmax_t>(size, kHeader))),
             "the header");
  if (size < sizeof kMagic || std::memcmp(header, kMagic, sizeof kMagic) != 0) {
    throw FileError(path, "is not a model file: it does not start with ADNNMODL");
  }
  if (size < kHeader + kChecksum) throw FileError(path, "is truncated: it ends inside the header");
  if (const auto version = get_u32(header, 8); version != kVersion) {
    throw FileError(
        path, fmt::format("has format version {}; this build reads version {}", version, kVersion));
  }
  const std::uint32_t scalar = get_u32(header, 12);
  if (scalar != 4 && scalar != 8) {
    throw FileError(
        path, fmt::format("has scalar size {}; expected 4 or 8: the file is corrupt", scalar));
  }
  const std::uint32_t count = get_u32(header, 16);
  if (count > (size - kHeader - kChecksum) / 8) {
    throw FileError(path, fmt::format("claims {} parameters, more than its {} bytes can describe: "
                                      "it is truncated or corrupt",
                                      count, size));
  }
  std::vector<unsigned char> table(8 * std::size_t{count});
  in.read_at(kHeader, table, "the parameter shapes");
  // Shapes are 32-bit, so each parameter's byte count fits in 64 bits; their sum is checked
  // against the file's size as it grows.
  std::uint64_t expected = kHeader + 8ull * count + kChecksum;
  std::vector<Shape> shapes(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    shapes[i] = {get_u32(table.data(), 8 * std::size_t{i}),
                 get_u32(table.data(), 8 * std::size_t{i} + 4)};
    expected += static_cast<std::uint64_t>(shapes[i].rows) *
                static_cast<std::uint64_t>(shapes[i].cols) * scalar;
    if (expected > size) break;
  }
  if (expected != size) {
    throw FileError(path, fmt::format("has {} bytes but its header describes {}{}: it is {}", size,
                                      expected > size ? "more than " : "", expected,
                                      expected > size ? "truncated" : "corrupt"));
  }
  if (scalar != sizeof(T)) {
    throw FileError(path, fmt::format("holds {} values but the model is {}", scalar_name(scalar),
                                      scalar_name(sizeof(T))));
  }
  const auto parameters = model.parameters();
  if (parameters.size() != count) {
    throw FileError(
        path, fmt::format("holds {} parameters but the model has {}", count, parameters.size()));
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    const Shape model_shape{parameters[i]->rows(), parameters[i]->cols()};
    if (shapes[i] != model_shape) {
      throw FileError(
          path, fmt::format("parameter {} ({}) is {} in the file but {} in the model", i,
                            parameters[i]->name(), to_string(shapes[i]), to_string(model_shape)));
    }
  }
  const std::vector<unsigned char> bytes = in.read_all(size);
  const std::uint32_t stored = get_u32(bytes.data(), bytes.size() - kChecksum);
  if (const std::uint32_t actual =
          detail::crc32_of(std::span(bytes).first(bytes.size() - kChecksum));
      actual != stored) {
    throw FileError(path, fmt::format("is corrupt: its checksum is {:08x} but its contents give "
                                      "{:08x}",
                                      stored, actual));
  }
  std::size_t offset = kHeader + 8 * std::size_t{count};
  for (Parameter<T>* p : parameters) {
    const auto n = static_cast<std::size_t>(p->size()) * sizeof(T);
    std::memcpy(p->value().data(), bytes.data() + offset, n);
    offset += n;
  }
}

template void save(Layer<float>&, const std::filesystem::path&);
template void save(Layer<double>&, const std::filesystem::path&);
template void load(Layer<float>&, const std::filesystem::path&);
template void load(Layer<double>&, const std::filesystem::path&);

}  // namespace ad::nn
