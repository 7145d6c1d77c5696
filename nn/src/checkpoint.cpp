// fit's checkpoints; the format is described in checkpoint.hpp.

#include "checkpoint.hpp"

#include "files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>
#include <span>

namespace ad::nn::detail {
namespace {

static_assert(std::endian::native == std::endian::little,
              "checkpoints assume a little-endian host");

constexpr char kMagic[8] = {'A', 'D', 'N', 'N', 'C', 'K', 'P', 'T'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kChecksum = 4;

template <class V>
void put(std::vector<unsigned char>& out, V value) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&value);
  out.insert(out.end(), bytes, bytes + sizeof(V));
}

template <class V>
void put_all(std::vector<unsigned char>& out, std::span<const V> values) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(values.data());
  out.insert(out.end(), bytes, bytes + values.size_bytes());
}

// Reads a checkpoint's fields in order; running past the end is a FileError naming the
// offset and the field.
class Reader {
 public:
  Reader(const std::filesystem::path& path, std::span<const unsigned char> bytes)
      : path_(path), bytes_(bytes) {}

  template <class V>
  V get(const char* what) {
    V value{};
    take(std::span(reinterpret_cast<unsigned char*>(&value), sizeof(V)), what);
    return value;
  }
  // A count of items of `item_bytes` each, checked against what is left of the file.
  std::uint64_t count(std::size_t item_bytes, const char* what) {
    const auto n = get<std::uint64_t>(what);
    if (n > (bytes_.size() - offset_) / item_bytes) {
      throw FileError(path_, fmt::format("claims {} {} at byte offset {}, more than the file "
                                         "holds: it is truncated or corrupt",
                                         n, what, offset_ - 8));
    }
    return n;
  }
  template <class V>
  void get_all(std::span<V> out, const char* what) {
    take(std::as_writable_bytes(out), what);
  }
  // Passes over n bytes, returning the offset they start at.
  std::size_t skip(std::size_t n, const char* what) {
    if (n > bytes_.size() - offset_) {
      throw FileError(path_, fmt::format("is truncated: it ends at byte offset {}, in {}",
                                         bytes_.size(), what));
    }
    offset_ += n;
    return offset_ - n;
  }
  std::size_t offset() const { return offset_; }

 private:
  void take(std::span<std::byte> out, const char* what) {
    if (out.size() > bytes_.size() - offset_) {
      throw FileError(path_, fmt::format("is truncated: it ends at byte offset {}, in {}",
                                         bytes_.size(), what));
    }
    std::memcpy(out.data(), bytes_.data() + offset_, out.size());
    offset_ += out.size();
  }
  void take(std::span<unsigned char> out, const char* what) {
    take(std::as_writable_bytes(out), what);
  }

  const std::filesystem::path& path_;
  std::span<const unsigned char> bytes_;
  std::size_t offset_ = 0;
};

// A check of a value the checkpoint must share with the run that resumes from it.
void require_same(const std::filesystem::path& path, const char* what, std::uint64_t stored,
                  std::uint64_t now) {
  if (stored != now) {
    throw FileError(path, fmt::format("was written with {} {} but this run has {} {}: resume "
                                      "with the model and options it was written with",
                                      what, stored, what, now));
  }
}

}  // namespace

template <class T>
void write_checkpoint(const std::filesystem::path& path, const ParameterList<T>& parameters,
                      Optimizer<T>& optimizer, const FitProgress& progress,
                      const FitOptions<T>& options, Index samples) {
  std::vector<unsigned char> bytes(std::begin(kMagic), std::end(kMagic));
  put(bytes, kVersion);
  put(bytes, static_cast<std::uint32_t>(sizeof(T)));
  put(bytes, std::uint64_t{options.seed});
  put(bytes, static_cast<std::uint64_t>(options.batch_size));
  put(bytes, static_cast<std::uint64_t>(samples));
  put(bytes, std::uint64_t{options.shuffle});
  put(bytes, static_cast<std::uint64_t>(progress.replicas));
  put(bytes, static_cast<std::int64_t>(progress.epoch));
  put(bytes, static_cast<std::int64_t>(progress.batch));
  put(bytes, progress.step);
  put(bytes, optimizer.learning_rate());
  put_all<double>(bytes, progress.sums);
  put(bytes, static_cast<std::uint64_t>(progress.history.epochs.size()));
  for (const EpochStats& e : progress.history.epochs) {
    put(bytes, static_cast<std::int64_t>(e.epoch));
    for (double v :
         {e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy, e.seconds, e.learning_rate}) {
      put(bytes, v);
    }
  }
  put(bytes, static_cast<std::uint64_t>(parameters.size()));
  for (const Parameter<T>* p : parameters) {
    put(bytes, static_cast<std::uint64_t>(p->rows()));
    put(bytes, static_cast<std::uint64_t>(p->cols()));
    put_all<T>(bytes, std::span(p->value().data(), static_cast<std::size_t>(p->size())));
  }
  const typename Optimizer<T>::State state = optimizer.state();
  put(bytes, static_cast<std::uint64_t>(state.arrays.size()));
  for (const std::span<T> a : state.arrays) {
    put(bytes, static_cast<std::uint64_t>(a.size()));
    put_all<T>(bytes, a);
  }
  put(bytes, static_cast<std::uint64_t>(state.counters.size()));
  for (const std::int64_t* c : state.counters) put(bytes, *c);
  put(bytes, crc32_of(bytes));
  write_atomically(path, bytes);
}

template <class T>
void read_checkpoint(const std::filesystem::path& path, const ParameterList<T>& parameters,
                     Optimizer<T>& optimizer, FitProgress& progress, const FitOptions<T>& options,
                     Index samples) {
  const typename Optimizer<T>::State state = optimizer.state();
  // The largest file this model, optimiser and run can have written (a group of up to 2^20
  // replicas), so that a file that is not one is refused before it is read whole.
  std::uintmax_t limit = 4096 + 24 * (std::uintmax_t{1} << 20) +
                         56 * static_cast<std::uintmax_t>(std::max(options.epochs, 0));
  for (const Parameter<T>* p : parameters) limit += 16 + sizeof(T) * std::uintmax_t(p->size());
  for (const std::span<T> a : state.arrays) limit += 8 + sizeof(T) * a.size();
  limit += 8 * state.counters.size();
  const std::vector<unsigned char> bytes = InputFile(path).read_all(limit);
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw FileError(path, "is not a checkpoint: it does not start with ADNNCKPT");
  }
  if (bytes.size() < sizeof kMagic + 8 + kChecksum) {
    throw FileError(path, "is truncated: it ends inside the header");
  }
  std::uint32_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - kChecksum, kChecksum);
  const auto body = std::span(bytes).first(bytes.size() - kChecksum);
  if (const std::uint32_t actual = crc32_of(body); actual != stored) {
    throw FileError(path, fmt::format("is corrupt: its checksum is {:08x} but its contents give "
                                      "{:08x}",
                                      stored, actual));
  }
  Reader in(path, body);
  in.get<std::array<char, 8>>("the magic");
  if (const auto version = in.get<std::uint32_t>("the version"); version != kVersion) {
    throw FileError(path, fmt::format("has checkpoint version {}; this build reads version {}",
                                      version, kVersion));
  }
  require_same(path, "scalar bytes", in.get<std::uint32_t>("the scalar size"), sizeof(T));
  require_same(path, "seed", in.get<std::uint64_t>("the seed"), options.seed);
  require_same(path, "batch size", in.get<std::uint64_t>("the batch size"),
               static_cast<std::uint64_t>(options.batch_size));
  require_same(path, "training samples", in.get<std::uint64_t>("the sample count"),
               static_cast<std::uint64_t>(samples));
  require_same(path, "shuffling (1: on)", in.get<std::uint64_t>("shuffling"), options.shuffle);
  FitProgress read;
  const std::uint64_t replicas = in.count(24, "replicas");
  read.replicas = static_cast<int>(replicas);
  read.epoch = static_cast<int>(in.get<std::int64_t>("the epoch"));
  read.batch = in.get<std::int64_t>("the batch");
  read.step = in.get<std::int64_t>("the step");
  const double lr = in.get<double>("the learning rate");
  if (replicas < 1 || read.epoch < 1 || read.batch < 0 || read.step < 0) {
    throw FileError(path, fmt::format("is corrupt: {} replicas, epoch {}, batch {}, step {}",
                                      replicas, read.epoch, read.batch, read.step));
  }
  read.sums.resize(3 * replicas);
  in.get_all(std::span(read.sums), "the running sums");
  const std::uint64_t epochs = in.count(56, "epochs of history");
  for (std::uint64_t i = 0; i < epochs; ++i) {
    EpochStats e;
    e.epoch = static_cast<int>(in.get<std::int64_t>("the history"));
    for (double* v : {&e.train_loss, &e.train_accuracy, &e.val_loss, &e.val_accuracy, &e.seconds,
                      &e.learning_rate}) {
      *v = in.get<double>("the history");
    }
    read.history.epochs.push_back(e);
  }
  require_same(path, "parameter count", in.count(16, "parameters"), parameters.size());
  std::vector<std::size_t> parameter_offsets;
  for (const Parameter<T>* p : parameters) {
    const auto rows = in.get<std::uint64_t>("a parameter's shape");
    const auto cols = in.get<std::uint64_t>("a parameter's shape");
    if (rows != static_cast<std::uint64_t>(p->rows()) ||
        cols != static_cast<std::uint64_t>(p->cols())) {
      throw FileError(path, fmt::format("holds a parameter of {}x{} where the model's {} is {}x{}",
                                        rows, cols, p->name(), p->rows(), p->cols()));
    }
    parameter_offsets.push_back(
        in.skip(sizeof(T) * static_cast<std::size_t>(p->size()), "a parameter's elements"));
  }
  require_same(path, "optimiser array count", in.count(8, "optimiser arrays"), state.arrays.size());
  std::vector<std::size_t> array_offsets;
  for (const std::span<T> a : state.arrays) {
    require_same(path, "optimiser array length", in.count(sizeof(T), "optimiser elements"),
                 a.size());
    array_offsets.push_back(in.skip(a.size_bytes(), "an optimiser array"));
  }
  require_same(path, "optimiser counter count", in.count(8, "optimiser counters"),
               state.counters.size());
  std::vector<std::int64_t> counters(state.counters.size());
  in.get_all(std::span(counters), "the optimiser's counters");
  if (in.offset() != body.size()) {
    throw FileError(path, fmt::format("has {} bytes after its last field at byte offset {}: it "
                                      "is corrupt",
                                      body.size() - in.offset(), in.offset()));
  }
  // Everything checked: now the model, the optimiser and the progress change.
  optimizer.set_learning_rate(lr);
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    std::memcpy(parameters[i]->value().data(), body.data() + parameter_offsets[i],
                sizeof(T) * static_cast<std::size_t>(parameters[i]->size()));
  }
  for (std::size_t i = 0; i < state.arrays.size(); ++i) {
    std::memcpy(state.arrays[i].data(), body.data() + array_offsets[i],
                state.arrays[i].size_bytes());
  }
  for (std::size_t i = 0; i < counters.size(); ++i) *state.counters[i] = counters[i];
  progress = std::move(read);
}

void FitProgress::keep_own_sums(int rank) {
  for (int r = 0; r < replicas; ++r) {
    if (r != rank) std::fill_n(sums.begin() + 3 * r, 3, 0.0);
  }
}

template <class T>
FitProgress start_or_resume(const FitOptions<T>& options, const ParameterList<T>& parameters,
                            Optimizer<T>& optimizer, Index samples, int rank, int ranks) {
  FitProgress at;
  at.replicas = ranks;
  at.sums.assign(3 * static_cast<std::size_t>(ranks), 0);
  if (options.resume && std::filesystem::exists(options.checkpoint)) {
    read_checkpoint(options.checkpoint, parameters, optimizer, at, options, samples);
    if (at.replicas != ranks) {
      double total[3] = {};
      for (std::size_t i = 0; i < at.sums.size(); ++i) total[i % 3] += at.sums[i];
      at.sums.assign(3 * static_cast<std::size_t>(ranks), 0);
      std::copy(std::begin(total), std::end(total), at.sums.begin());
      at.replicas = ranks;
    }
  }
  at.keep_own_sums(rank);
  return at;
}

template FitProgress start_or_resume(const FitOptions<float>&, const ParameterList<float>&,
                                     Optimizer<float>&, Index, int, int);
template FitProgress start_or_resume(const FitOptions<double>&, const ParameterList<double>&,
                                     Optimizer<double>&, Index, int, int);
template void write_checkpoint(const std::filesystem::path&, const ParameterList<float>&,
                               Optimizer<float>&, const FitProgress&, const FitOptions<float>&,
                               Index);
template void write_checkpoint(const std::filesystem::path&, const ParameterList<double>&,
                               Optimizer<double>&, const FitProgress&, const FitOptions<double>&,
                               Index);
template void read_checkpoint(const std::filesystem::path&, const ParameterList<float>&,
                              Optimizer<float>&, FitProgress&, const FitOptions<float>&, Index);
template void read_checkpoint(const std::filesystem::path&, const ParameterList<double>&,
                              Optimizer<double>&, FitProgress&, const FitOptions<double>&, Index);

}  // namespace ad::nn::detail
