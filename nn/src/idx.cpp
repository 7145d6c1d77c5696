// The IDX reader: the format of MNIST-style data sets (http://yann.lecun.com/exdb/mnist/).
//
//   magic      4 bytes: 0, 0, element type (0x08 = unsigned byte), number of dimensions
//   dims       one 4-byte big-endian count per dimension, outermost first
//   data       the elements, row-major
//
// zlib's gz* functions read gzip and plain files alike, so one path serves both.

#include <ad/nn/data.hpp>

#include "files.hpp"
#include "huge_pages.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace ad::nn {
namespace {

// Deflate cannot expand its input by more than about 1032:1, so a gzip file of n bytes
// decompresses to at most this many; a header that claims more is corrupt.
constexpr std::uintmax_t kMaxDeflateRatio = 1032;
constexpr int kMaxDimensions = 16;

// The product of the dimensions, or UINTMAX_MAX if it would exceed it.
std::uintmax_t saturating_product(std::span<const std::uint32_t> dims) {
  std::uintmax_t product = 1;
  for (const std::uint32_t d : dims) {
    if (d != 0 && product > UINTMAX_MAX / d) return UINTMAX_MAX;
    product *= d;
  }
  return product;
}

struct GzClose {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzClose>;

class Reader {
 public:
  // Only a regular file is opened (files.hpp); zlib then reads it through its descriptor.
  explicit Reader(const std::filesystem::path& path) : path_(path) {
    detail::InputFile in(path);
    file_size_ = in.size();
    const int fd = in.release();
    file_.reset(gzdopen(fd, "rb"));
    if (!file_) {
      ::close(fd);
      throw FileError(path, "cannot be read: zlib could not open it (out of memory)");
    }
    gzbuffer(file_.get(), 1 << 17);
  }

  // Reads up to n bytes; fewer only at the end of the data. Corrupt compressed data is an
  // error naming zlib's reason and the offset (in the decompressed data) where it was found.
  std::size_t read(void* out, std::size_t n) {
    auto* bytes = static_cast<unsigned char*>(out);
    std::size_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
      const int got = gzread(file_.get(), bytes + done, chunk);
      if (got < 0) {
        throw FileError(path_, fmt::format("is corrupt at byte offset {} of its data: {}",
                                           offset_ + done, zlib_error()));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    offset_ += done;
    return done;
  }

  // Reads exactly n bytes of `what`, or throws naming where the file ended.
  void read_exact(void* out, std::size_t n, const char* what) {
    const std::uintmax_t start = offset_;
    const std::size_t got = read(out, n);
    if (got < n) {
      std::string why = fmt::format(
          "is truncated: it ends at byte offset {}, {} bytes into {} ({} expected from offset {})",
          start + got, got, what, n, start);
      if (const std::string z = zlib_error(); !z.empty()) why += fmt::format(" ({})", z);
      throw FileError(path_, why);
    }
  }

  bool compressed() const { return gzdirect(file_.get()) == 0; }
  std::uintmax_t file_size() const { return file_size_; }

 private:
  std::string zlib_error() const {
    int code = Z_OK;
    const char* message = gzerror(file_.get(), &code);
    return code == Z_OK || message == nullptr ? std::string() : std::string(message);
  }

  std::filesystem::path path_;
  GzFile file_;
  std::uintmax_t file_size_ = 0;
  std::uintmax_t offset_ = 0;  // in the decompressed data
};

}  // namespace

IdxArray read_idx(const std::filesystem::path& path, std::size_t max_bytes) {
  Reader in(path);
  unsigned char magic[4];
  in.read_exact(magic, 4, "the magic number");
  if (magic[0] != 0 || magic[1] != 0) {
    throw FileError(path, fmt::format("is not an IDX file: its magic number {:02x} {:02x} {:02x} "
                                      "{:02x} does not start with two zero bytes",
                                      magic[0], magic[1], magic[2], magic[3]));
  }
  if (magic[2] != 0x08) {
    throw FileError(path, fmt::format("has IDX element type 0x{:02x}; only unsigned bytes (0x08) "
                                      "are supported",
                                      magic[2]));
  }
  const int rank = magic[3];
  if (rank < 1 || rank > kMaxDimensions) {
    throw FileError(
        path, fmt::format("claims {} dimensions; an IDX file has 1 to {}", rank, kMaxDimensions));
  }

  IdxArray array;
  array.dims.resize(static_cast<std::size_t>(rank));
  for (auto& d : array.dims) {
    unsigned char b[4];
    in.read_exact(b, 4, "the dimensions");
    d = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
        std::uint32_t{b[3]};
  }
  const auto header = static_cast<std::uintmax_t>(4 + 4 * rank);
  const std::string shape = fmt::format("{}", fmt::join(array.dims, " x "));
  const std::string where = fmt::format("at byte offsets 4 to {}", header - 1);
  // One item (an image: the product of the inner dimensions) must fit the limit even when
  // the outermost count is 0, so that no reader of the array multiplies past it. Products
  // saturate instead of wrapping, so that one past any limit is seen as such.
  const std::uintmax_t item = saturating_product(std::span(array.dims).subspan(1));
  if (item > max_bytes) {
    throw FileError(
        path, fmt::format("claims dimensions {} ({}): one item of {} would be more "
                          "than the limit of {} bytes; the header is corrupt",
                          shape, where, fmt::join(array.dims.begin() + 1, array.dims.end(), " x "),
                          max_bytes));
  }
  const std::uintmax_t count = saturating_product(array.dims);
  if (count > max_bytes) {
    throw FileError(path, fmt::format("claims dimensions {} ({}): more elements than the limit "
                                      "of {} bytes; the header is corrupt",
                                      shape, where, max_bytes));
  }
  // Check what the header claims against the file before allocating for it.
  if (!in.compressed() && header + count != in.file_size()) {
    throw FileError(
        path,
        fmt::format("has {} bytes of data (from byte offset {}) but its dimensions {} ({}) need "
                    "{}: the file is {}",
                    in.file_size() - std::min(in.file_size(), header), header, shape, where, count,
                    header + count > in.file_size() ? "truncated" : "longer than its header says"));
  }
  if (in.compressed() && count > kMaxDeflateRatio * in.file_size()) {
    throw FileError(path, fmt::format("claims dimensions {} ({} bytes, {}), more than a gzip file "
                                      "of {} bytes can hold; the header is corrupt",
                                      shape, count, where, in.file_size()));
  }
  array.data.resize(static_cast<std::size_t>(count));
  in.read_exact(array.data.data(), array.data.size(), "the data");
  unsigned char extra;
  if (in.read(&extra, 1) != 0) {
    throw FileError(path, fmt::format("has more data than its dimensions {} need: it goes on past "
                                      "byte offset {} of its decompressed data",
                                      shape, header + count));
  }
  return array;
}

template <class T>
Dataset<T> load_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                    T scale) {
  const IdxArray pixels = read_idx(images);
  if (pixels.dims.size() != 3) {
    throw FileError(images, fmt::format("has {} dimensions; images need 3 (count, rows, columns)",
                                        pixels.dims.size()));
  }
  const IdxArray classes = read_idx(labels);
  if (classes.dims.size() != 1) {
    throw FileError(labels,
                    fmt::format("has {} dimensions; labels need 1 (count)", classes.dims.size()));
  }
  if (classes.dims[0] != pixels.dims[0]) {
    throw FileError(labels, fmt::format("holds {} labels but {} holds {} images", classes.dims[0],
                                        images.string(), pixels.dims[0]));
  }
  // read_idx bounded one image and all of them by its limit, so these products fit an Index.
  const auto n = static_cast<Index>(pixels.dims[0]);
  const auto size = static_cast<Index>(std::uint64_t{pixels.dims[1]} * pixels.dims[2]);
  Dataset<T> data;
  data.x.resize(size, n);  // allocated, advised, then filled in place
  detail::advise_huge_pages(data.x.data(), static_cast<std::size_t>(data.x.size()) * sizeof(T));
  // Each image's pixels are contiguous in the file: one column each.
  data.x = Eigen::Map<const Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>>(
               pixels.data.data(), size, n)
               .template cast<T>() *
           scale;
  data.labels.assign(classes.data.begin(), classes.data.end());
  return data;
}

MnistFiles mnist_files(const std::filesystem::path& dir, const std::string& split) {
  auto find = [&](const std::string& name) {
    for (const char* suffix : {".gz", ""}) {
      auto path = dir / (name + suffix);
      std::error_code ec;
      if (std::filesystem::exists(path, ec)) return path;
    }
    throw FileError(dir / (name + ".gz"),
                    fmt::format("not found, nor {} uncompressed; the directory should hold the "
                                "MNIST layout ({{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte"
                                "[.gz]), as Debian's dataset-fashion-mnist installs it",
                                name));
  };
  return {find(split + "-images-idx3-ubyte"), find(split + "-labels-idx1-ubyte")};
}

template <class T>
Dataset<T> load_mnist(const std::filesystem::path& dir, const std::string& split, T scale) {
  const MnistFiles files = mnist_files(dir, split);
  return load_idx<T>(files.images, files.labels, scale);
}

template Dataset<float> load_idx(const std::filesystem::path&, const std::filesystem::path&, float);
template Dataset<double> load_idx(const std::filesystem::path&, const std::filesystem::path&,
                                  double);
template Dataset<float> load_mnist(const std::filesystem::path&, const std::string&, float);
template Dataset<double> load_mnist(const std::filesystem::path&, const std::string&, double);

}  // namespace ad::nn
