// The nn layer in two threads at once: trainings, saves and loads, and the readers. Each
// thread has its own tape, model and optimiser, so they share only what the library shares
// internally; the tsan preset runs this suite (ctest label "threads") under ThreadSanitizer.
#define BOOST_TEST_MODULE threads
#include <boost/test/unit_test.hpp>

#include "temp_dir.hpp"

#include <ad/ad.hpp>
#include <ad/nn/nn.hpp>

#include <cstdint>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

namespace nn = ad::nn;
using Eigen::Index;

namespace {

// Three classes of points in the plane, one per quadrant-ish cluster.
nn::Dataset<float> clusters(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  const float centres[3][2] = {{1, 1}, {-1, 1}, {0, -1}};
  nn::Dataset<float> data;
  data.x.resize(2, 60);
  for (Index j = 0; j < data.x.cols(); ++j) {
    const int label = static_cast<int>(j % 3);
    data.x(0, j) = centres[label][0] + noise(rng);
    data.x(1, j) = centres[label][1] + noise(rng);
    data.labels.push_back(label);
  }
  return data;
}

nn::Sequential<float> trained(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const nn::Dataset<float> data = clusters(seed);
  const std::vector<Index> sizes = {2, 8, 3};
  nn::Sequential<float> model = nn::mlp<float>(sizes, nn::Activation::relu, rng);
  nn::Adam<float> opt(model.parameters(), {.lr = 1e-2f});
  nn::fit<float>(model, nn::CrossEntropy{}, opt, data,
                 {.epochs = 4, .batch_size = 8, .seed = seed, .progress = nn::Progress::none});
  return model;
}

bool same_bits(nn::Sequential<float>& a, nn::Sequential<float>& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  if (pa.size() != pb.size()) return false;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    if (pa[i]->value() != pb[i]->value()) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_trainings_in_two_threads_equal_the_same_trainings_in_one) {
  nn::Sequential<float> alone_1 = trained(1), alone_2 = trained(2);
  nn::Sequential<float> in_thread_1, in_thread_2;
  std::thread t1([&] { in_thread_1 = trained(1); });
  std::thread t2([&] { in_thread_2 = trained(2); });
  t1.join();
  t2.join();
  BOOST_TEST(same_bits(in_thread_1, alone_1));
  BOOST_TEST(same_bits(in_thread_2, alone_2));
}

BOOST_AUTO_TEST_CASE(two_threads_saving_and_loading_leave_a_loadable_model) {
  const ad_test::TempDir dir("ad-threads");
  nn::Sequential<float> model_1 = trained(1), model_2 = trained(2);
  // Each thread saves its own file and the shared one, then loads its own back.
  auto save_and_load = [&](nn::Sequential<float>& model, const char* own) {
    for (int repeat = 0; repeat < 5; ++repeat) {
      nn::save(model, dir.path / own);
      nn::save(model, dir.path / "shared.bin");
      nn::load(model, dir.path / own);
    }
  };
  std::thread t1([&] { save_and_load(model_1, "one.bin"); });
  std::thread t2([&] { save_and_load(model_2, "two.bin"); });
  t1.join();
  t2.join();
  nn::Sequential<float> loaded = trained(3);
  nn::load(loaded, dir.path / "shared.bin");
  BOOST_TEST((same_bits(loaded, model_1) || same_bits(loaded, model_2)));
  // No temporary of either save is left beside the files.
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path)) ++files;
  BOOST_TEST(files == 3);
}

BOOST_AUTO_TEST_CASE(two_threads_reading_the_same_files) {
  const ad_test::TempDir dir("ad-threads");
  {
    std::ofstream csv(dir.path / "data.csv");
    csv << "a,b,label\n";
    for (int i = 0; i < 200; ++i) csv << i << "," << -i << "," << i % 4 << "\n";
    // IDX: 50 images of 2x3 bytes, with 50 labels.
    std::ofstream images(dir.path / "images", std::ios::binary);
    const unsigned char header[] = {0, 0, 8, 3, 0, 0, 0, 50, 0, 0, 0, 2, 0, 0, 0, 3};
    images.write(reinterpret_cast<const char*>(header), sizeof header);
    for (int i = 0; i < 50 * 6; ++i) images.put(static_cast<char>(i % 251));
    std::ofstream labels(dir.path / "labels", std::ios::binary);
    const unsigned char label_header[] = {0, 0, 8, 1, 0, 0, 0, 50};
    labels.write(reinterpret_cast<const char*>(label_header), sizeof label_header);
    for (int i = 0; i < 50; ++i) labels.put(static_cast<char>(i % 10));
  }
  auto read = [&] {
    const nn::Dataset<double> table = nn::read_csv<double>(dir.path / "data.csv");
    const nn::Dataset<float> images = nn::load_idx<float>(dir.path / "images", dir.path / "labels");
    return std::pair(table.size() + table.classes(), images.size() + images.features());
  };
  std::pair<Index, Index> in_thread_1, in_thread_2;
  std::thread t1([&] { in_thread_1 = read(); });
  std::thread t2([&] { in_thread_2 = read(); });
  t1.join();
  t2.join();
  const std::pair<Index, Index> alone = read();
  BOOST_TEST((in_thread_1 == alone));
  BOOST_TEST((in_thread_2 == alone));
  BOOST_TEST(in_thread_1.first == 204);
  BOOST_TEST(in_thread_1.second == 56);
}
