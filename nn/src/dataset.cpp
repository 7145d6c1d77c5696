// Datasets: subsets, seeded splits, batching, and the CSV reader.

#include <ad/nn/data.hpp>

#include "files.hpp"
#include "huge_pages.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <string_view>

namespace ad::nn {

template <class T>
int Dataset<T>::classes() const {
  if (labels.empty()) return 0;
  const auto [smallest, largest] = std::minmax_element(labels.begin(), labels.end());
  if (*smallest < 0) {
    throw ad::Error(fmt::format("Dataset::classes: label {} (sample {}) is negative", *smallest,
                                smallest - labels.begin()));
  }
  if (*largest == std::numeric_limits<int>::max()) {
    throw ad::Error(
        fmt::format("Dataset::classes: label {} (sample {}) leaves no count of classes "
                    "that an int can hold",
                    *largest, largest - labels.begin()));
  }
  return *largest + 1;
}

template <class T>
Dataset<T> Dataset<T>::subset(std::span<const Index> indices) const {
  Dataset out;
  out.x.resize(x.rows(), static_cast<Index>(indices.size()));  // allocated, advised, then filled
  detail::advise_huge_pages(out.x.data(), static_cast<std::size_t>(out.x.size()) * sizeof(T));
  if (y.size() > 0) out.y.resize(y.rows(), static_cast<Index>(indices.size()));
  if (!labels.empty()) out.labels.resize(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const Index i = indices[k];
    if (i < 0 || i >= size()) {
      throw ad::Error(fmt::format("Dataset::subset: index {} is outside [0, {})", i, size()));
    }
    const auto col = static_cast<Index>(k);
    out.x.col(col) = x.col(i);
    if (y.size() > 0) out.y.col(col) = y.col(i);
    if (!labels.empty()) out.labels[k] = labels[static_cast<std::size_t>(i)];
  }
  return out;
}

template <class T>
std::pair<Dataset<T>, Dataset<T>> Dataset<T>::split(double validation_fraction,
                                                    std::uint64_t seed) const {
  if (!(validation_fraction >= 0 && validation_fraction < 1)) {
    throw ad::Error(fmt::format("Dataset::split: the validation fraction {} must lie in [0, 1)",
                                validation_fraction));
  }
  std::vector<Index> order(static_cast<std::size_t>(size()));
  std::iota(order.begin(), order.end(), Index{0});
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  const auto held_out = static_cast<std::size_t>(std::llround(validation_fraction * size()));
  const std::span<const Index> all(order);
  return {subset(all.subspan(held_out)), subset(all.first(held_out))};
}

Shard shard_of(Index n, int index, int count) {
  if (count < 1 || index < 0 || index >= count || n < 0) {
    throw ad::Error(fmt::format("shard_of: no part {} of {} parts of {} items", index, count, n));
  }
  const Index base = n / count;
  const Index extra = n % count;
  return {index * base + std::min<Index>(index, extra), base + (index < extra ? 1 : 0)};
}

template <class T>
Batcher<T>::Batcher(const Dataset<T>& data, Index batch_size, bool shuffle, std::uint64_t seed,
                    int shard_index, int shard_count)
    : data_(&data),
      batch_size_(batch_size),
      shuffle_(shuffle),
      shard_index_(shard_index),
      shard_count_(shard_count),
      rng_(seed) {
  if (batch_size <= 0) {
    throw ad::Error(fmt::format("Batcher: the batch size must be at least 1, got {}", batch_size));
  }
  shard_of(batch_size, shard_index, shard_count);  // checks the shard
  if (!data.labels.empty() && static_cast<Index>(data.labels.size()) != data.size()) {
    throw ad::Error(fmt::format("Batcher: the dataset has {} samples but {} labels", data.size(),
                                data.labels.size()));
  }
  if (data.y.size() > 0 && data.y.cols() != data.size()) {
    throw ad::Error(fmt::format("Batcher: the dataset has {} samples but {} target columns",
                                data.size(), data.y.cols()));
  }
  if (shuffle_) {
    order_.resize(static_cast<std::size_t>(data.size()));
    std::iota(order_.begin(), order_.end(), Index{0});
    const Index n = shard_of(std::min(batch_size, data.size()), shard_index, shard_count).size;
    x_.resize(data.x.rows(), n);
    if (data.y.size() > 0) y_.resize(data.y.rows(), n);
    labels_.resize(data.labels.empty() ? 0 : static_cast<std::size_t>(n));
  }
  if (!data.labels.empty()) label_row_.resize(1, std::min(batch_size, data.size()));
}

template <class T>
void Batcher<T>::start_epoch() {
  if (shuffle_) std::shuffle(order_.begin(), order_.end(), rng_);
  position_ = 0;
}

template <class T>
void Batcher<T>::skip(Index batches) {
  position_ = std::min(data_->size(), position_ + std::max<Index>(batches, 0) * batch_size_);
}

template <class T>
Index Batcher<T>::batches_per_epoch() const {
  return (data_->size() + batch_size_ - 1) / batch_size_;
}

namespace {

// Gathering a shuffled batch reads columns scattered over the whole dataset, from memory
// rather than cache: requesting a column a few columns before it is copied keeps several
// reads in flight instead of one.
constexpr Index prefetch_distance = 4;

template <class T>
void prefetch_column(const Matrix<T>& x, Index j) {
  const char* const begin = reinterpret_cast<const char*>(x.col(j).data());
  const char* const end = begin + x.rows() * Index{sizeof(T)};
  for (const char* line = begin; line < end; line += 64) __builtin_prefetch(line);
}

}  // namespace

template <class T>
bool Batcher<T>::next(Batch<T>& batch) {
  const Dataset<T>& d = *data_;
  if (position_ >= d.size()) return false;
  const Index whole = std::min(batch_size_, d.size() - position_);
  const Shard shard = shard_of(whole, shard_index_, shard_count_);
  const Index first = position_ + shard.first;
  const Index n = shard.size;
  const bool has_y = d.y.size() > 0;
  const bool has_labels = !d.labels.empty();
  const auto count = static_cast<std::size_t>(n);
  if (shuffle_) {
    for (Index k = 0; k < n; ++k) {
      if (k + prefetch_distance < n) {
        prefetch_column(d.x, order_[static_cast<std::size_t>(first + k + prefetch_distance)]);
      }
      const Index i = order_[static_cast<std::size_t>(first + k)];
      x_.col(k) = d.x.col(i);
      if (has_y) y_.col(k) = d.y.col(i);
      if (has_labels) labels_[static_cast<std::size_t>(k)] = d.labels[static_cast<std::size_t>(i)];
    }
    if (has_labels) {
      for (Index k = 0; k < n; ++k) {
        label_row_(0, k) = static_cast<T>(labels_[static_cast<std::size_t>(k)]);
      }
    }
    batch = Batch<T>(x_.data(), d.x.rows(), has_y ? y_.data() : nullptr, d.y.rows(),
                     std::span<const int>(labels_).first(has_labels ? count : 0),
                     has_labels ? label_row_.data() : nullptr, n);
  } else {
    // In order, a batch is a run of contiguous columns: a view, no copy.
    const auto start = static_cast<std::size_t>(first);
    if (has_labels) {
      for (Index k = 0; k < n; ++k) label_row_(0, k) = static_cast<T>(d.labels[start + k]);
    }
    batch = Batch<T>(
        d.x.data() + first * d.x.rows(), d.x.rows(),
        has_y ? d.y.data() + first * d.y.rows() : nullptr, d.y.rows(),
        has_labels ? std::span<const int>(d.labels).subspan(start, count) : std::span<const int>(),
        has_labels ? label_row_.data() : nullptr, n);
  }
  position_ += whole;
  return true;
}

namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

std::vector<std::string_view> split_fields(std::string_view line, char delimiter) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const auto end = line.find(delimiter, start);
    fields.push_back(trim(line.substr(start, end - start)));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return fields;
}

std::optional<double> parse_number(std::string_view field) {
  if (field.starts_with('+')) field.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc() || end != field.data() + field.size() || field.empty()) return std::nullopt;
  return value;
}

// Whether a target can be a class label: a non-negative integer below INT_MAX, so that the
// count of classes (the largest label + 1) is an int too.
bool is_countable_label(double v) {
  return v >= 0 && v < static_cast<double>(std::numeric_limits<int>::max()) && v == std::floor(v);
}

}  // namespace

template <class T>
Dataset<T> read_csv(const std::filesystem::path& path, const CsvOptions& options) {
  // The whole file, bounded by its size and the limit, is read before it is parsed: a
  // directory, FIFO or device is refused by InputFile before anything is read.
  const std::vector<unsigned char> bytes = detail::InputFile(path).read_all(options.max_bytes);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<std::string> header;
  std::vector<double> values;  // row-major, one row per sample
  std::size_t width = 0;
  std::size_t rows = 0;
  std::size_t start = 0;
  for (std::size_t number = 1; start < text.size(); ++number) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (trim(line).empty()) continue;
    const auto fields = split_fields(line, options.delimiter);
    const bool first = width == 0;
    if (first) width = fields.size();
    if (fields.size() != width) {
      throw FileError(path, fmt::format("line {} has {} fields but the first row has {}", number,
                                        fields.size(), width));
    }
    std::vector<std::optional<double>> parsed;
    for (auto f : fields) parsed.push_back(parse_number(f));
    const bool numeric =
        std::all_of(parsed.begin(), parsed.end(), [](auto v) { return v.has_value(); });
    if (first && !numeric) {
      header.assign(fields.begin(), fields.end());
      continue;
    }
    for (std::size_t c = 0; c < width; ++c) {
      if (!parsed[c]) {
        throw FileError(path, fmt::format("line {}, column {}: '{}' is not a number", number, c + 1,
                                          fields[c]));
      }
      values.push_back(*parsed[c]);
    }
    ++rows;
  }
  if (rows == 0) throw FileError(path, "holds no rows of numbers");
  if (width < 2) {
    throw FileError(path, "has one column; a table needs at least one feature and a target");
  }

  std::size_t target = 0;
  if (!options.label_name.empty()) {
    const auto it = std::find(header.begin(), header.end(), options.label_name);
    if (it == header.end()) {
      throw FileError(
          path, header.empty()
                    ? fmt::format("has no header, so no column is named '{}'", options.label_name)
                    : fmt::format("has no column named '{}'", options.label_name));
    }
    target = static_cast<std::size_t>(it - header.begin());
  } else {
    const auto w = static_cast<long>(width);
    const long index = options.label_index < 0 ? w + options.label_index : options.label_index;
    if (index < 0 || index >= w) {
      throw FileError(path, fmt::format("has {} columns; there is no column {} for the target",
                                        width, options.label_index));
    }
    target = static_cast<std::size_t>(index);
  }

  Dataset<T> data;
  data.x.resize(static_cast<Index>(width - 1), static_cast<Index>(rows));
  data.y.resize(1, static_cast<Index>(rows));
  bool classes = true;
  for (std::size_t r = 0; r < rows; ++r) {
    const auto col = static_cast<Index>(r);
    Index feature = 0;
    for (std::size_t c = 0; c < width; ++c) {
      const double v = values[r * width + c];
      if (c == target) {
        data.y(0, col) = static_cast<T>(v);
        classes = classes && is_countable_label(v);
      } else {
        data.x(feature++, col) = static_cast<T>(v);
      }
    }
  }
  if (classes) {
    data.labels.resize(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      data.labels[r] = static_cast<int>(values[r * width + target]);
    }
  }
  return data;
}

template struct Dataset<float>;
template struct Dataset<double>;
template class Batcher<float>;
template class Batcher<double>;
template Dataset<float> read_csv(const std::filesystem::path&, const CsvOptions&);
template Dataset<double> read_csv(const std::filesystem::path&, const CsvOptions&);

}  // namespace ad::nn
