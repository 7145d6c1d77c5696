#define BOOST_TEST_MODULE data
#include <boost/test/unit_test.hpp>

#include <ad/nn/data.hpp>
#include <ad/nn/serialize.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "temp_dir.hpp"

namespace nn = ad::nn;
namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

namespace {

// A scratch directory, removed at the end of a test, and files written into it.
struct TempDir : ad_test::TempDir {
  TempDir() : ad_test::TempDir("ad-test-data") {}
  fs::path write(const std::string& name, const Bytes& bytes) const {
    const fs::path p = path / name;
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  fs::path write_gz(const std::string& name, const Bytes& bytes) const {
    const fs::path p = path / name;
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return p;
  }
  fs::path write_text(const std::string& name, const std::string& text) const {
    const fs::path p = path / name;
    std::ofstream(p) << text;
    return p;
  }
};

// An IDX file of unsigned bytes: magic, big-endian dimensions, data.
Bytes idx(const std::vector<std::uint32_t>& dims, const Bytes& data) {
  Bytes b = {0, 0, 0x08, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<unsigned char>(d >> shift));
  }
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes iota_bytes(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>(i * 7 % 256);
  return b;
}

// Expects read_idx to fail with a message naming the file and containing `words`.
void expect_idx_error(const fs::path& p, const std::string& words) {
  try {
    nn::read_idx(p);
    BOOST_ERROR("no error reading " << p);
  } catch (const nn::FileError& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find(p.filename().string()) != std::string::npos, what);
    BOOST_TEST(what.find(words) != std::string::npos, what);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(idx_reads_plain_and_gzip) {
  TempDir dir;
  const Bytes data = iota_bytes(3 * 4 * 5);
  const Bytes file = idx({3, 4, 5}, data);
  for (const fs::path& p : {dir.write("a-idx3-ubyte", file), dir.write_gz("a-idx3-ubyte.gz", file),
                            dir.write_gz("misnamed-but-gzip", file)}) {
    const nn::IdxArray a = nn::read_idx(p);
    BOOST_TEST(a.dims == (std::vector<std::uint32_t>{3, 4, 5}), boost::test_tools::per_element());
    BOOST_TEST(a.data == data, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(idx_rejects_corrupt_files) {
  TempDir dir;
  const Bytes good = idx({2, 3}, iota_bytes(6));
  Bytes magic = good;
  magic[0] = 1;
  expect_idx_error(dir.write("magic", magic), "not an IDX file");
  Bytes type = good;
  type[2] = 0x0D;
  expect_idx_error(dir.write("type", type), "element type 0x0d");
  Bytes rank = good;
  rank[3] = 0;
  expect_idx_error(dir.write("rank", rank), "0 dimensions");
  expect_idx_error(dir.write("short", idx({2, 3}, iota_bytes(5))), "truncated");
  expect_idx_error(dir.write("long", idx({2, 3}, iota_bytes(7))), "longer than its header says");
  expect_idx_error(dir.write_gz("short.gz", idx({2, 3}, iota_bytes(5))), "truncated");
  expect_idx_error(dir.write_gz("long.gz", idx({2, 3}, iota_bytes(9))), "more data");
  expect_idx_error(dir.write("empty", {}), "truncated");
  expect_idx_error(dir.write("header-cut", Bytes(good.begin(), good.begin() + 6)), "dimensions");
  expect_idx_error(dir.path / "missing", "no such file");
}

BOOST_AUTO_TEST_CASE(idx_rejects_dimensions_that_would_overflow_without_allocating) {
  TempDir dir;
  // 2^32-1 cubed overflows 64 bits; 2^32-1 squared does not but exceeds any limit and
  // the file; a gzip file cannot hold 1 GB in a few bytes.
  const std::uint32_t big = 0xFFFFFFFF;
  expect_idx_error(dir.write("overflow", idx({big, big, big}, {})), "limit");
  expect_idx_error(dir.write("huge", idx({big, big}, {})), "limit");
  expect_idx_error(dir.write("big-plain", idx({1u << 30}, iota_bytes(10))), "truncated");
  expect_idx_error(dir.write_gz("big.gz", idx({1u << 30}, iota_bytes(10))), "gzip file");
  // A truncated gzip stream (the compressed bytes cut short).
  const fs::path whole = dir.write_gz("whole.gz", idx({50, 50}, iota_bytes(2500)));
  std::ifstream in(whole, std::ios::binary);
  Bytes compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  compressed.resize(compressed.size() / 2);
  expect_idx_error(dir.write("cut.gz", compressed), "truncated");
}

BOOST_AUTO_TEST_CASE(idx_pair_becomes_a_dataset_of_columns) {
  TempDir dir;
  const Bytes pixels = {0,  255, 51, 102,  //
                        1,  2,   3,  4,    //
                        10, 20,  30, 40};
  const fs::path images = dir.write_gz("train-images-idx3-ubyte.gz", idx({3, 2, 2}, pixels));
  const fs::path labels = dir.write("train-labels-idx1-ubyte", idx({3}, {7, 0, 2}));
  const nn::Dataset<float> d = nn::load_mnist<float>(dir.path, "train");
  BOOST_TEST(d.size() == 3);
  BOOST_TEST(d.features() == 4);
  BOOST_TEST(d.x(1, 0) == 1.0f);
  BOOST_TEST(d.x(2, 0) == 0.2f, boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(d.x(3, 2) == 40.0f / 255, boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(d.labels == (std::vector<int>{7, 0, 2}), boost::test_tools::per_element());
  BOOST_TEST(d.classes() == 8);

  dir.write("t10k-images-idx3-ubyte", idx({3, 2, 2}, pixels));
  const fs::path few = dir.write("t10k-labels-idx1-ubyte", idx({2}, {1, 2}));
  BOOST_CHECK_EXCEPTION(nn::load_mnist<float>(dir.path, "t10k"), nn::FileError,
                        [&](const nn::FileError& e) {
                          const std::string what = e.what();
                          return what.find("holds 2 labels") != std::string::npos &&
                                 what.find("3 images") != std::string::npos;
                        });
  BOOST_CHECK_THROW(nn::load_idx<float>(labels, labels), nn::FileError);  // 1-D images
  BOOST_CHECK_EXCEPTION(nn::load_mnist<float>(dir.path, "valid"), nn::FileError,
                        [](const nn::FileError& e) {
                          return std::string(e.what()).find("not found") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(csv_reads_a_numeric_table_with_a_label_column) {
  TempDir dir;
  const fs::path p = dir.write_text("t.csv", "a, b ,class\n1,2,0\n\n3.5,-4e1,2\r\n5,6,1\n");
  const nn::Dataset<double> d = nn::read_csv<double>(p, {.label_name = "class"});
  BOOST_TEST(d.size() == 3);
  BOOST_TEST(d.features() == 2);
  BOOST_TEST(d.x(1, 1) == -40.0);
  BOOST_TEST(d.labels == (std::vector<int>{0, 2, 1}), boost::test_tools::per_element());
  BOOST_TEST(d.y(0, 2) == 1.0);

  // No header, target first, real-valued: a regression table without labels.
  const fs::path r = dir.write_text("r.csv", "0.5,1,2\n1.5,3,4\n");
  const nn::Dataset<float> reg = nn::read_csv<float>(r, {.label_index = 0});
  BOOST_TEST(reg.features() == 2);
  BOOST_TEST(reg.labels.empty());
  BOOST_TEST(reg.y(0, 1) == 1.5f);
  BOOST_TEST(reg.x(0, 1) == 3.0f);
}

BOOST_AUTO_TEST_CASE(csv_errors_name_the_file_and_the_place) {
  TempDir dir;
  auto expect = [&](const std::string& text, const std::string& words, nn::CsvOptions o = {}) {
    const fs::path p = dir.write_text("bad.csv", text);
    try {
      nn::read_csv<double>(p, o);
      BOOST_ERROR("no error for " << text);
    } catch (const nn::FileError& e) {
      const std::string what = e.what();
      BOOST_TEST(what.find("bad.csv") != std::string::npos, what);
      BOOST_TEST(what.find(words) != std::string::npos, what);
    }
  };
  expect("x,y\n1,2\n3,oops\n", "line 3, column 2: 'oops' is not a number");
  expect("1,2\n3,4,5\n", "line 2 has 3 fields but the first row has 2");
  expect("x,y\n", "no rows");
  expect("x,y\n1,2\n", "no column named 'z'", {.label_name = "z"});
  expect("1,2\n", "no column 5", {.label_index = 5});
  BOOST_CHECK_THROW(nn::read_csv<double>(dir.path / "none.csv"), nn::FileError);
}

BOOST_AUTO_TEST_CASE(split_is_seeded_disjoint_and_complete) {
  nn::Dataset<double> d;
  d.x.resize(1, 100);
  for (int j = 0; j < 100; ++j) {
    d.x(0, j) = j;
    d.labels.push_back(j % 3);
  }
  auto [train, val] = d.split(0.2, 5);
  BOOST_TEST(train.size() == 80);
  BOOST_TEST(val.size() == 20);
  std::set<int> seen;
  for (const auto* part : {&train, &val}) {
    for (Eigen::Index j = 0; j < part->size(); ++j) {
      const int i = static_cast<int>(part->x(0, j));
      seen.insert(i);
      BOOST_TEST(part->labels[static_cast<std::size_t>(j)] == i % 3);
    }
  }
  BOOST_TEST(seen.size() == 100u);
  auto [again, val_again] = d.split(0.2, 5);
  BOOST_TEST((val.x == val_again.x));
  auto [other, val_other] = d.split(0.2, 6);
  BOOST_TEST(!(val.x == val_other.x));
  BOOST_CHECK_THROW(d.split(1.0, 0), ad::Error);
}

BOOST_AUTO_TEST_CASE(batcher_visits_every_sample_once_per_epoch) {
  nn::Dataset<float> d;
  d.x.resize(2, 10);
  d.y.resize(1, 10);
  for (int j = 0; j < 10; ++j) {
    d.x(0, j) = static_cast<float>(j);
    d.x(1, j) = static_cast<float>(-j);
    d.y(0, j) = static_cast<float>(2 * j);
    d.labels.push_back(j);
  }
  for (bool shuffle : {false, true}) {
    nn::Batcher<float> batcher(d, 4, shuffle, 3);
    BOOST_TEST(batcher.batches_per_epoch() == 3);
    std::vector<std::vector<int>> orders;
    for (int epoch = 0; epoch < 2; ++epoch) {
      batcher.start_epoch();
      std::vector<int> order;
      std::vector<Eigen::Index> sizes;
      nn::Batch<float> b;
      while (batcher.next(b)) {
        sizes.push_back(b.size());
        for (Eigen::Index k = 0; k < b.size(); ++k) {
          const int i = static_cast<int>(b.x()(0, k));
          BOOST_TEST(b.x()(1, k) == -static_cast<float>(i));
          BOOST_TEST(b.y()(0, k) == 2.0f * static_cast<float>(i));
          BOOST_TEST(b.labels()[static_cast<std::size_t>(k)] == i);
          order.push_back(i);
        }
      }
      BOOST_TEST(sizes == (std::vector<Eigen::Index>{4, 4, 2}), boost::test_tools::per_element());
      std::vector<int> sorted = order;
      std::sort(sorted.begin(), sorted.end());
      BOOST_TEST(sorted == (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}),
                 boost::test_tools::per_element());
      orders.push_back(order);
    }
    if (shuffle) {
      BOOST_TEST(orders[0] != orders[1]);
    } else {
      BOOST_TEST(orders[0] == orders[1], boost::test_tools::per_element());
      BOOST_TEST(orders[0][0] == 0);
    }
  }
  BOOST_CHECK_THROW(nn::Batcher<float>(d, 0, false), ad::Error);
}

BOOST_AUTO_TEST_CASE(idx_refuses_items_past_the_limit_even_when_there_are_none) {
  TempDir dir;
  // 0 images of 2^32-1 x 2^32-1 pixels: no data, but one image would overflow any size
  // (and a signed product of the two); the header names it, with where the dimensions lie.
  const std::uint32_t big = 0xFFFFFFFF;
  const fs::path images = dir.write("images", idx({0, big, big}, {}));
  const fs::path labels = dir.write("labels", idx({0}, {}));
  expect_idx_error(images, "byte offsets 4 to 15");
  BOOST_CHECK_EXCEPTION(nn::load_idx<float>(images, labels), nn::FileError,
                        [](const nn::FileError& e) {
                          return std::string(e.what()).find("limit") != std::string::npos;
                        });
  // A smaller limit applies to one item as to the whole.
  BOOST_CHECK_THROW(nn::read_idx(dir.write("wide", idx({0, 1000, 1000}, {})), 999'999),
                    nn::FileError);
  // Within the limit, an empty set of large images is read as what it is: no columns.
  const nn::Dataset<float> empty =
      nn::load_idx<float>(dir.write("empty", idx({0, 65536, 65536}, {})), labels);
  BOOST_TEST(empty.size() == 0);
  BOOST_TEST(empty.features() == Eigen::Index{1} << 32);
}

BOOST_AUTO_TEST_CASE(idx_errors_name_the_byte_offset) {
  TempDir dir;
  const Bytes file = idx({4, 5}, iota_bytes(20));
  expect_idx_error(dir.write("header-cut", Bytes(file.begin(), file.begin() + 7)),
                   "ends at byte offset 7, 3 bytes into the dimensions (4 expected from offset 4)");
  expect_idx_error(dir.write("short", idx({4, 5}, iota_bytes(19))), "from byte offset 12");
  expect_idx_error(dir.write_gz("short.gz", idx({4, 5}, iota_bytes(19))),
                   "ends at byte offset 31, 19 bytes into the data");
}

namespace {

// Expects `read` to throw an nn::FileError naming `path` and containing `words`. An alarm
// turns a reader that blocks (on a FIFO) or never ends (on /dev/zero) into a failure.
void expect_refused(const std::function<void()>& read, const fs::path& path,
                    const std::string& words) {
  alarm(60);
  try {
    read();
    BOOST_ERROR("no error reading " << path);
  } catch (const nn::FileError& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find(path.string()) != std::string::npos, what);
    BOOST_TEST(what.find(words) != std::string::npos, what);
  }
  alarm(0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(readers_refuse_directories_fifos_and_devices_before_reading) {
  TempDir dir;
  const fs::path fifo = dir.path / "fifo";
  BOOST_REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const fs::path zero = "/dev/zero";
  const std::pair<fs::path, std::string> cases[] = {
      {dir.path, "is a directory, not a regular file"},
      {fifo, "is a FIFO (named pipe), not a regular file"},
      {zero, "is a character device, not a regular file"}};
  std::mt19937_64 rng(1);
  const std::vector<Eigen::Index> sizes = {2, 3, 2};
  nn::Sequential<float> model = nn::mlp<float>(sizes, nn::Activation::relu, rng);
  for (const auto& [path, words] : cases) {
    expect_refused([&] { nn::read_idx(path); }, path, words);
    expect_refused([&] { nn::read_csv<float>(path); }, path, words);
    expect_refused([&] { nn::load(model, path); }, path, words);
  }
  const fs::path labels = dir.write("labels", idx({1}, {0}));
  expect_refused([&] { nn::load_idx<float>(fifo, labels); }, fifo, "FIFO");
}

BOOST_AUTO_TEST_CASE(csv_is_read_no_further_than_its_limit) {
  TempDir dir;
  const fs::path p = dir.write_text("big.csv", "1,2\n3,4\n5,6\n");
  BOOST_TEST(nn::read_csv<float>(p, {.max_bytes = 12}).size() == 3);
  expect_refused([&] { nn::read_csv<float>(p, {.max_bytes = 11}); }, p,
                 "is 12 bytes, more than the limit of 11 bytes");
}

BOOST_AUTO_TEST_CASE(labels_that_cannot_be_counted_are_not_labels) {
  TempDir dir;
  // INT_MAX as a label would make the count of classes INT_MAX + 1: the column is a
  // regression target instead, as for any integer past an int.
  const fs::path p = dir.write_text("t.csv", "1,2147483647\n2,0\n");
  const nn::Dataset<double> d = nn::read_csv<double>(p);
  BOOST_TEST(d.labels.empty());
  BOOST_TEST(d.y(0, 0) == 2147483647.0);
  BOOST_TEST(d.classes() == 0);
  const nn::Dataset<double> small = nn::read_csv<double>(dir.write_text("s.csv", "1,2147483646\n"));
  BOOST_TEST(small.labels == (std::vector<int>{2147483646}), boost::test_tools::per_element());
  BOOST_TEST(small.classes() == 2147483647);

  // A data set built by hand is checked when its classes are counted.
  nn::Dataset<float> hand;
  hand.x.resize(1, 2);
  hand.labels = {3, std::numeric_limits<int>::max()};
  BOOST_CHECK_EXCEPTION(hand.classes(), ad::Error, [](const ad::Error& e) {
    return std::string(e.what()).find("label 2147483647 (sample 1)") != std::string::npos;
  });
  hand.labels = {3, -1};
  BOOST_CHECK_EXCEPTION(hand.classes(), ad::Error, [](const ad::Error& e) {
    return std::string(e.what()).find("label -1 (sample 1) is negative") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(mnist_files_name_the_split_files) {
  TempDir dir;
  dir.write_gz("train-images-idx3-ubyte.gz", idx({1, 1, 1}, {0}));
  dir.write("train-labels-idx1-ubyte", idx({1}, {0}));
  const nn::MnistFiles files = nn::mnist_files(dir.path, "train");
  BOOST_TEST(files.images == dir.path / "train-images-idx3-ubyte.gz");
  BOOST_TEST(files.labels == dir.path / "train-labels-idx1-ubyte");
  BOOST_CHECK_THROW(nn::mnist_files(dir.path, "t10k"), nn::FileError);
}

BOOST_AUTO_TEST_CASE(shards_split_n_into_near_equal_consecutive_parts) {
  // 10 items in 3 parts: 4, 3, 3 (the first n % count parts one larger), back to back.
  const std::vector<std::pair<Eigen::Index, Eigen::Index>> expected = {{0, 4}, {4, 3}, {7, 3}};
  for (int k = 0; k < 3; ++k) {
    const nn::Shard s = nn::shard_of(10, k, 3);
    BOOST_TEST(s.first == expected[static_cast<std::size_t>(k)].first);
    BOOST_TEST(s.size == expected[static_cast<std::size_t>(k)].second);
  }
  BOOST_TEST(nn::shard_of(1, 2, 3).size == 0);  // fewer items than parts: empty parts
  BOOST_TEST(nn::shard_of(1, 2, 3).first == 1);
  BOOST_CHECK_THROW(nn::shard_of(5, 3, 3), ad::Error);
  BOOST_CHECK_THROW(nn::shard_of(5, 0, 0), ad::Error);
}

// Batchers with shards 0..2 of 3 give, batch by batch, the parts of the batch that one
// batcher without a shard gives, in order; the last batch (1 sample) leaves two parts empty.
BOOST_AUTO_TEST_CASE(sharded_batchers_split_each_batch_of_one_unsharded_batcher) {
  nn::Dataset<float> d;
  d.x.resize(1, 9);
  for (int j = 0; j < 9; ++j) {
    d.x(0, j) = static_cast<float>(j);
    d.labels.push_back(j);
  }
  for (bool shuffle : {false, true}) {
    nn::Batcher<float> whole(d, 4, shuffle, 5);
    std::vector<std::unique_ptr<nn::Batcher<float>>> parts;
    for (int k = 0; k < 3; ++k) {
      parts.push_back(std::make_unique<nn::Batcher<float>>(d, 4, shuffle, 5, k, 3));
    }
    for (int epoch = 0; epoch < 2; ++epoch) {
      whole.start_epoch();
      for (auto& p : parts) p->start_epoch();
      nn::Batch<float> b;
      std::vector<Eigen::Index> part_sizes;
      while (whole.next(b)) {
        std::vector<int> joined;
        for (auto& p : parts) {
          nn::Batch<float> part;
          BOOST_TEST_REQUIRE(p->next(part));
          part_sizes.push_back(part.size());
          for (Eigen::Index k = 0; k < part.size(); ++k) {
            BOOST_TEST(part.x()(0, k) == static_cast<float>(part.labels()[std::size_t(k)]));
            joined.push_back(part.labels()[static_cast<std::size_t>(k)]);
          }
        }
        BOOST_TEST(joined == std::vector<int>(b.labels().begin(), b.labels().end()),
                   boost::test_tools::per_element());
      }
      for (auto& p : parts) BOOST_TEST(!p->next(b));
      BOOST_TEST(part_sizes == (std::vector<Eigen::Index>{2, 1, 1, 2, 1, 1, 1, 0, 0}),
                 boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(skip_passes_over_batches_as_next_would) {
  nn::Dataset<float> d;
  d.x.resize(1, 10);
  for (int j = 0; j < 10; ++j) d.x(0, j) = static_cast<float>(j);
  nn::Batcher<float> a(d, 3, true, 8);
  nn::Batcher<float> b(d, 3, true, 8);
  a.start_epoch();
  b.start_epoch();
  nn::Batch<float> x, y;
  a.next(x);
  a.next(x);
  b.skip(2);
  while (a.next(x)) {
    BOOST_TEST_REQUIRE(b.next(y));
    BOOST_TEST((x.x() == y.x()));
  }
  BOOST_TEST(!b.next(y));
}
