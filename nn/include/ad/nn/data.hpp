#pragma once
// Data: reading IDX (the MNIST/Fashion-MNIST layout, plain or gzip) and CSV files, a
// dataset with samples as columns, seeded shuffling, a train/validation split, and
// batching.
//
// Every reader checks what a file claims (magic, dimensions, counts) against what it
// holds before allocating, so a missing, truncated or corrupt file is an nn::FileError
// naming the file and the problem, never a crash or a huge allocation.

#include <ad/nn/error.hpp>
#include <ad/tape.hpp>

#include <cstdint>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ad::nn {

using Eigen::Index;

// An IDX file of unsigned bytes (type 0x08, the only type MNIST-style sets use): its
// dimensions, outermost first, and its elements in the file's (row-major) order.
struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;
};

// Reads an IDX file, decompressing it if it is gzip (recognised by its content, not its
// name). Files larger than max_bytes once decompressed are refused, and so are headers
// whose inner dimensions (one item, such as an image) multiply past max_bytes even when the
// outer count is 0. Only regular files are read.
IdxArray read_idx(const std::filesystem::path& path, std::size_t max_bytes = std::size_t{1} << 32);

template <class T>
struct Dataset {
  Matrix<T> x;              // features x samples
  Matrix<T> y;              // targets x samples (regression, binary), or empty
  std::vector<int> labels;  // the class of each sample (classification), or empty

  Index size() const { return x.cols(); }
  Index features() const { return x.rows(); }
  // One more than the largest label; 0 without labels. An ad::Error if a label is negative
  // or INT_MAX (its count of classes would not be an int).
  int classes() const;

  // The samples at the given indices, in that order.
  Dataset subset(std::span<const Index> indices) const;
  // A seeded random split: (training, validation) with round(fraction · size) samples
  // held out for validation.
  std::pair<Dataset, Dataset> split(double validation_fraction, std::uint64_t seed) const;
};

// Images (n x rows x cols) and labels (n) of an IDX pair as a dataset: one column of
// rows·cols pixels per image, each pixel times `scale` (1/255 maps bytes onto [0, 1]).
template <class T>
Dataset<T> load_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                    T scale = T(1) / T(255));

// The files of a split ("train" or "t10k") in a directory in the MNIST layout:
// <split>-images-idx3-ubyte and <split>-labels-idx1-ubyte, each plain or with .gz
// appended. An nn::FileError naming the file that is missing.
struct MnistFiles {
  std::filesystem::path images;
  std::filesystem::path labels;
};
MnistFiles mnist_files(const std::filesystem::path& dir, const std::string& split);

// load_idx of mnist_files(dir, split).
template <class T>
Dataset<T> load_mnist(const std::filesystem::path& dir, const std::string& split,
                      T scale = T(1) / T(255));

struct CsvOptions {
  // The target column: by header name if given, else by index (negative counts from the
  // end; -1 is the last column).
  std::string label_name = {};
  int label_index = -1;
  char delimiter = ',';
  // Larger files are refused before they are read.
  std::uintmax_t max_bytes = std::uintmax_t{1} << 30;
};

// A numeric table, one sample per row. The first row is a header if any of its fields is
// not a number. The target column becomes y (1 x samples) and, when every target is a
// non-negative integer below INT_MAX (so that the count of classes is an int), also labels.
// The other columns become x. Only a regular file of at most max_bytes is read.
template <class T>
Dataset<T> read_csv(const std::filesystem::path& path, const CsvOptions& options = {});

// A batch of `size()` samples: views into the dataset or the batcher's buffers, valid
// until the batcher's next call to next().
template <class T>
class Batch {
 public:
  Batch() = default;
  Batch(const T* x, Index features, const T* y, Index targets, std::span<const int> labels,
        const T* label_row, Index size)
      : x_(x),
        y_(y),
        label_row_(label_row),
        features_(features),
        targets_(y ? targets : 0),
        size_(size),
        labels_(labels) {}

  Eigen::Map<const Matrix<T>> x() const { return {x_, features_, size_}; }
  // Empty (0 x 0) when the dataset has no targets.
  Eigen::Map<const Matrix<T>> y() const { return {y_, targets_, y_ ? size_ : 0}; }
  // Empty when the dataset has no labels.
  std::span<const int> labels() const { return labels_; }
  // What a loss compares the model's output with: y, or without targets the labels as a row
  // of numbers (1 x size, as sparse_softmax_cross_entropy reads them).
  Eigen::Map<const Matrix<T>> target() const {
    if (y_ || !label_row_) return y();
    return {label_row_, 1, size_};
  }
  Index size() const { return size_; }

 private:
  const T* x_ = nullptr;
  const T* y_ = nullptr;
  const T* label_row_ = nullptr;
  Index features_ = 0;
  Index targets_ = 0;
  Index size_ = 0;
  std::span<const int> labels_;
};

// Part `index` of `count` near-equal parts of n items, as {first, size}: the first n % count
// parts have one item more. Data-parallel training splits each batch this way.
struct Shard {
  Index first = 0;
  Index size = 0;
};
Shard shard_of(Index n, int index, int count);

// Batches over a dataset, one epoch at a time; with shuffling, each epoch visits the
// samples in a new order drawn from the seeded generator. Buffers are allocated once, so
// batching allocates nothing after construction.
//
// With a shard (index, count), each batch is this shard's part of the batch of batch_size
// samples that the same Batcher without a shard would give (shard_of(batch, index, count)):
// processes that batch the same data with the same seed, one shard each, split every
// batch between them. A shard may be empty (a batch smaller than count).
template <class T>
class Batcher {
 public:
  Batcher(const Dataset<T>& data, Index batch_size, bool shuffle, std::uint64_t seed = 0,
          int shard_index = 0, int shard_count = 1);

  // Starts an epoch (a new order if shuffling).
  void start_epoch();
  // The next batch of the epoch; false once the epoch is done. The last batch may be smaller.
  bool next(Batch<T>& batch);
  // Passes over the epoch's next `batches` batches without gathering them (resuming).
  void skip(Index batches);
  Index batches_per_epoch() const;

 private:
  const Dataset<T>* data_;
  Index batch_size_;
  bool shuffle_;
  int shard_index_;
  int shard_count_;
  std::mt19937_64 rng_;
  std::vector<Index> order_;
  Index position_ = 0;
  Matrix<T> x_;
  Matrix<T> y_;
  std::vector<int> labels_;
  Matrix<T> label_row_;  // the batch's labels as numbers (Batch::target without targets)
};

extern template struct Dataset<float>;
extern template struct Dataset<double>;
extern template class Batcher<float>;
extern template class Batcher<double>;

}  // namespace ad::nn
