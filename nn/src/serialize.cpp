// Saving and loading parameters; the format is described in ad/nn/serialize.hpp.

#include <ad/nn/error.hpp>
#include <ad/nn/serialize.hpp>

#include <fmt/format.h>
#include <zlib.h>

#include <fcntl.h>
#include <unistd.h>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

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

std::uint32_t get_u32(const std::vector<unsigned char>& in, std::size_t offset) {
  std::uint32_t v = 0;
  std::memcpy(&v, in.data() + offset, sizeof v);
  return v;
}

std::uint32_t checksum(const unsigned char* data, std::size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // crc32 takes at most 4 GiB at a time.
  for (std::size_t done = 0; done < size;) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(size - done, 1u << 30));
    crc = crc32(crc, data + done, chunk);
    done += chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

void write_all(int fd, const std::vector<unsigned char>& bytes, const std::filesystem::path& path) {
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw FileError(path, fmt::format("cannot be written: {}", std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
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
  put(bytes, checksum(bytes.data(), bytes.size()));

  // A unique temporary name beside the target, so the rename stays on one file system.
  const std::filesystem::path temporary =
      path.parent_path() / fmt::format(".{}.tmp-{}", path.filename().string(), getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw FileError(temporary, fmt::format("cannot be created (to save the model to {}): {}",
                                           path.string(), std::strerror(errno)));
  }
  try {
    write_all(fd, bytes, temporary);
    if (::fsync(fd) != 0) {
      throw FileError(temporary, fmt::format("cannot be flushed: {}", std::strerror(errno)));
    }
  } catch (...) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  ::close(fd);
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    ::unlink(temporary.c_str());
    throw FileError(path, fmt::format("cannot be replaced: {}", ec.message()));
  }
}

template <class T>
void load(Layer<T>& model, const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw FileError(path, "no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot be opened");
  const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in),
                                         std::istreambuf_iterator<char>()};
  const std::size_t size = bytes.size();
  if (size < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw FileError(path, "is not a model file: it does not start with ADNNMODL");
  }
  if (size < kHeader + kChecksum) throw FileError(path, "is truncated: it ends inside the header");
  if (const auto version = get_u32(bytes, 8); version != kVersion) {
    throw FileError(
        path, fmt::format("has format version {}; this build reads version {}", version, kVersion));
  }
  const std::uint32_t scalar = get_u32(bytes, 12);
  if (scalar != 4 && scalar != 8) {
    throw FileError(
        path, fmt::format("has scalar size {}; expected 4 or 8: the file is corrupt", scalar));
  }
  const std::uint32_t count = get_u32(bytes, 16);
  if (count > (size - kHeader - kChecksum) / 8) {
    throw FileError(path, fmt::format("claims {} parameters, more than its {} bytes can describe: "
                                      "it is truncated or corrupt",
                                      count, size));
  }
  // Shapes are 32-bit, so each parameter's byte count fits in 64 bits; their sum is checked
  // against the file's size as it grows.
  std::uint64_t expected = kHeader + 8ull * count + kChecksum;
  std::vector<Shape> shapes(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    shapes[i] = {get_u32(bytes, kHeader + 8 * i), get_u32(bytes, kHeader + 8 * i + 4)};
    expected += static_cast<std::uint64_t>(shapes[i].rows) *
                static_cast<std::uint64_t>(shapes[i].cols) * scalar;
    if (expected > size) break;
  }
  if (expected != size) {
    throw FileError(path, fmt::format("has {} bytes but its header describes {}{}: it is {}", size,
                                      expected > size ? "more than " : "", expected,
                                      expected > size ? "truncated" : "corrupt"));
  }
  const std::uint32_t stored = get_u32(bytes, size - kChecksum);
  if (const std::uint32_t actual = checksum(bytes.data(), size - kChecksum); actual != stored) {
    throw FileError(path, fmt::format("is corrupt: its checksum is {:08x} but its contents give "
                                      "{:08x}",
                                      stored, actual));
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
  std::size_t offset = kHeader + 8 * count;
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
