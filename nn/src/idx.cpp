// The IDX reader: the format of MNIST-style data sets (http://yann.lecun.com/exdb/mnist/).
//
//   magic      4 bytes: 0, 0, element type (0x08 = unsigned byte), number of dimensions
//   dims       one 4-byte big-endian count per dimension, outermost first
//   data       the elements, row-major
//
// zlib's gz* functions read gzip and plain files alike, so one path serves both.

#include <ad/nn/data.hpp>

#include "huge_pages.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>

namespace ad::nn {
namespace {

// Deflate cannot expand its input by more than about 1032:1, so a gzip file of n bytes
// decompresses to at most this many; a header that claims more is corrupt.
constexpr std::uintmax_t kMaxDeflateRatio = 1032;
constexpr int kMaxDimensions = 16;

struct GzClose {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzClose>;

class Reader {
 public:
  explicit Reader(const std::filesystem::path& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw FileError(path, "no such file");
    file_size_ = std::filesystem::file_size(path, ec);
    if (ec) throw FileError(path, "cannot be read: " + ec.message());
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) throw FileError(path, fmt::format("cannot be opened: {}", std::strerror(errno)));
    gzbuffer(file_.get(), 1 << 17);
  }

  // Reads up to n bytes; fewer only at the end of the data. Corrupt compressed data is an
  // error naming zlib's reason.
  std::size_t read(void* out, std::size_t n) {
    auto* bytes = static_cast<unsigned char*>(out);
    std::size_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
      const int got = gzread(file_.get(), bytes + done, chunk);
      if (got < 0) throw FileError(path_, fmt::format("is corrupt: {}", zlib_error()));
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

  // Reads exactly n bytes of `what`, or throws naming where the file ended.
  void read_exact(void* out, std::size_t n, const char* what) {
    const std::size_t got = read(out, n);
    if (got < n) {
      std::string why =
          fmt::format("is truncated: it ends {} bytes into {} ({} expected)", got, what, n);
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
  std::uintmax_t count = 1;
  bool overflow = false;
  for (auto& d : array.dims) {
    unsigned char b[4];
    in.read_exact(b, 4, "the dimensions");
    d = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
        std::uint32_t{b[3]};
    // Saturate instead of wrapping, so that a product past any limit is seen as such.
    if (d != 0 && count > UINTMAX_MAX / d) overflow = true;
    count = overflow ? UINTMAX_MAX : count * d;
  }
  const auto header = static_cast<std::uintmax_t>(4 + 4 * rank);
  const std::string shape = fmt::format("{}", fmt::join(array.dims, " x "));
  if (overflow || count > max_bytes) {
    throw FileError(path, fmt::format("claims dimensions {}: more elements than the limit of {} "
                                      "bytes; the header is corrupt",
                                      shape, max_bytes));
  }
  // Check what the header claims against the file before allocating for it.
  if (!in.compressed() && header + count != in.file_size()) {
    throw FileError(
        path,
        fmt::format("has {} bytes of data but its dimensions {} need {}: the "
                    "file is {}",
                    in.file_size() - std::min(in.file_size(), header), shape, count,
                    header + count > in.file_size() ? "truncated" : "longer than its header says"));
  }
  if (in.compressed() && count > kMaxDeflateRatio * in.file_size()) {
    throw FileError(path, fmt::format("claims dimensions {} ({} bytes), more than a gzip file of "
                                      "{} bytes can hold; the header is corrupt",
                                      shape, count, in.file_size()));
  }
  array.data.resize(static_cast<std::size_t>(count));
  in.read_exact(array.data.data(), array.data.size(), "the data");
  unsigned char extra;
  if (in.read(&extra, 1) != 0) {
    throw FileError(path, fmt::format("has more data than its dimensions {} need", shape));
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
  const auto n = static_cast<Index>(pixels.dims[0]);
  const auto size = static_cast<Index>(pixels.dims[1]) * static_cast<Index>(pixels.dims[2]);
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

template <class T>
Dataset<T> load_mnist(const std::filesystem::path& dir, const std::string& split, T scale) {
  auto find = [&](const std::string& name) {
    for (const char* suffix : {".gz", ""}) {
      auto path = dir / (name + suffix);
      if (std::filesystem::exists(path)) return path;
    }
    throw FileError(dir / (name + ".gz"),
                    fmt::format("not found, nor {} uncompressed; the directory should hold the "
                                "MNIST layout ({{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte"
                                "[.gz]), as Debian's dataset-fashion-mnist installs it",
                                name));
  };
  const auto images = find(split + "-images-idx3-ubyte");
  const auto labels = find(split + "-labels-idx1-ubyte");
  return load_idx<T>(images, labels, scale);
}

template Dataset<float> load_idx(const std::filesystem::path&, const std::filesystem::path&, float);
template Dataset<double> load_idx(const std::filesystem::path&, const std::filesystem::path&,
                                  double);
template Dataset<float> load_mnist(const std::filesystem::path&, const std::string&, float);
template Dataset<double> load_mnist(const std::filesystem::path&, const std::string&, double);

}  // namespace ad::nn
