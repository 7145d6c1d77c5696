// The nn layer in two threads at once: trainings, saves and loads, and the readers. Each
// thread has its own tape, model and optimiser, so they share only what the library shares
// internally; the tsan preset runs this suite (ctest label "threads") under ThreadSanitizer.
#define BOOST_TEST_MODULE threads
#include <boost/test/unit_test.hpp>

#include "temp_dir.hpp"

#include <ad/ad.hpp>
#include <ad/nn/nn.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace nn = ad::nn;
using Eigen::Index;

namespace {

// Three classes of points in the plane, one per quadrant-ish cluster.
template <class T>
nn::Dataset<T> clusters(std::uint64_t seed, Index samples = 60) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<T> noise(T(0), T(0.3));
  const T centres[3][2] = {{1, 1}, {-1, 1}, {0, -1}};
  nn::Dataset<T> data;
  data.x.resize(2, samples);
  for (Index j = 0; j < samples; ++j) {
    const int label = static_cast<int>(j % 3);
    data.x(0, j) = centres[label][0] + noise(rng);
    data.x(1, j) = centres[label][1] + noise(rng);
    data.labels.push_back(label);
  }
  return data;
}

nn::Sequential<float> trained(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const nn::Dataset<float> data = clusters<float>(seed);
  const std::vector<Index> sizes = {2, 8, 3};
  nn::Sequential<float> model = nn::mlp<float>(sizes, nn::Activation::relu, rng);
  nn::Adam<float> opt(model.parameters(), {.lr = 1e-2f});
  nn::fit<float>(model, nn::CrossEntropy{}, opt, data,
                 {.epochs = 4, .batch_size = 8, .seed = seed, .progress = nn::Progress::none});
  return model;
}

template <class T>
bool same_bits(nn::Sequential<T>& a, nn::Sequential<T>& b) {
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

namespace {

nn::Sequential<double> model_f64(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<Index> sizes = {2, 8, 3};
  return nn::mlp<double>(sizes, nn::Activation::tanh, rng);
}

double relative(double a, double b) { return std::abs(a - b) / std::abs(b); }

// An optimiser's state, every array and counter one after another.
std::vector<double> state_of(nn::Optimizer<double>& optimizer) {
  const nn::Optimizer<double>::State state = optimizer.state();
  std::vector<double> all;
  for (const std::span<double> a : state.arrays) all.insert(all.end(), a.begin(), a.end());
  for (const std::int64_t* c : state.counters) all.push_back(static_cast<double>(*c));
  return all;
}

}  // namespace

// Data parallelism over threads (nn::train_in_threads): each replica starts from a model of
// its own (seeded by its rank) and gets replica 0's; after training every replica holds the
// same bits, parameters and optimiser state (which the replicas updated by slices), and the
// group trains as one thread with the same global batch but for the order of floating-point
// sums (losses within 1e-5 relative in f64, as over MPI). 83 samples in batches of 16 leave
// a last batch of 3, which 4 replicas split with one shard empty.
BOOST_AUTO_TEST_CASE(replicas_in_threads_train_as_one_thread_with_the_same_batch) {
  const nn::Dataset<double> train = clusters<double>(2, 83);
  const nn::Dataset<double> validation = clusters<double>(3, 30);
  const nn::FitOptions<double> options{.epochs = 3,
                                       .batch_size = 16,
                                       .seed = 7,
                                       .validation = &validation,
                                       .progress = nn::Progress::none,
                                       .out = nullptr};
  nn::Sequential<double> alone = model_f64(4);
  nn::Adam<double> alone_opt(alone.parameters(), {.lr = 0.02});
  const nn::History expected = nn::fit(alone, nn::CrossEntropy{}, alone_opt, train, options);

  for (const int threads : {1, 2, 3, 4}) {
    std::vector<nn::Sequential<double>> models(static_cast<std::size_t>(threads));
    std::vector<nn::History> histories(static_cast<std::size_t>(threads));
    std::vector<std::vector<double>> states(static_cast<std::size_t>(threads));
    nn::train_in_threads<double>(threads, [&](nn::Replicas<double>& replicas) {
      const auto r = static_cast<std::size_t>(replicas.rank());
      models[r] = model_f64(r == 0 ? 4 : 100 + r);
      nn::Adam<double> opt(models[r].parameters(), {.lr = 0.02});
      nn::FitOptions<double> mine = options;
      mine.replicas = &replicas;
      histories[r] = nn::fit(models[r], nn::CrossEntropy{}, opt, train, mine);
      states[r] = state_of(opt);
    });
    const std::vector<double> alone_state = state_of(alone_opt);
    BOOST_TEST_REQUIRE(states[0].size() == alone_state.size());
    BOOST_TEST(states[0].back() == alone_state.back());  // the step count
    for (int r = 1; r < threads; ++r) {
      BOOST_TEST(same_bits(models[0], models[static_cast<std::size_t>(r)]),
                 threads << " threads, replica " << r);
      BOOST_TEST((states[0] == states[static_cast<std::size_t>(r)]),
                 threads << " threads, replica " << r << "'s optimiser state");
    }
    const nn::History& got = histories[0];
    BOOST_TEST_REQUIRE(got.epochs.size() == expected.epochs.size());
    for (std::size_t e = 0; e < got.epochs.size(); ++e) {
      BOOST_TEST(relative(got.epochs[e].train_loss, expected.epochs[e].train_loss) <= 1e-5,
                 threads << " threads, epoch " << e);
      BOOST_TEST(relative(got.epochs[e].val_loss, expected.epochs[e].val_loss) <= 1e-5);
      BOOST_TEST(got.epochs[e].val_accuracy == expected.epochs[e].val_accuracy);
    }
    const auto p = models[0].parameters(), q = alone.parameters();
    for (std::size_t i = 0; i < p.size(); ++i) {
      BOOST_TEST((p[i]->value() - q[i]->value()).norm() <= 1e-9 * q[i]->value().norm());
    }
  }
}

// A group in threads stopped after step 11 (its last checkpoint at step 8, mid-epoch 2) and
// resumed ends with the same bits as a group never stopped: the checkpoint holds the whole
// optimiser state, which the replicas had each updated on their own slice only.
BOOST_AUTO_TEST_CASE(a_group_in_threads_resumed_from_its_checkpoint_ends_as_if_never_stopped) {
  const nn::Dataset<double> train = clusters<double>(2, 83);  // 6 steps an epoch
  const ad_test::TempDir dir("ad-threads");
  const auto run = [&](bool checkpoints, bool resume, int stop_after) {
    nn::Sequential<double> kept;
    nn::train_in_threads<double>(2, [&](nn::Replicas<double>& replicas) {
      nn::Sequential<double> model = model_f64(replicas.rank() == 0 ? 4 : 9);
      nn::Adam<double> opt(model.parameters(), {.lr = 0.02});
      int calls = 0;
      const nn::Schedule schedule = [&](double) {
        // fit checks every step's rate first (18 calls), then calls it before each step.
        if (replicas.rank() == 0 && stop_after > 0 && ++calls == 18 + stop_after + 1) {
          throw std::runtime_error("stopped");
        }
        return 0.02;
      };
      nn::fit(model, nn::CrossEntropy{}, opt, train,
              {.epochs = 3,
               .batch_size = 16,
               .seed = 7,
               .schedule = schedule,
               .out = nullptr,
               .replicas = &replicas,
               .checkpoint = checkpoints ? dir.path / "run.ckpt" : std::filesystem::path(),
               .checkpoint_every = checkpoints ? 4 : 0,
               .resume = resume});
      if (replicas.rank() == 0) kept = std::move(model);
    });
    return kept;
  };
  nn::Sequential<double> whole = run(false, false, 0);
  BOOST_CHECK_THROW(run(true, false, 11), std::runtime_error);
  BOOST_TEST_REQUIRE(std::filesystem::exists(dir.path / "run.ckpt"));
  nn::Sequential<double> resumed = run(true, true, 0);
  BOOST_TEST(same_bits(resumed, whole));
}

// An exception in one replica ends the others (waiting for it in the group's next sum)
// promptly, and train_in_threads rethrows it: the run neither hangs nor loses the message.
BOOST_AUTO_TEST_CASE(a_failing_replica_ends_the_group_with_its_message) {
  const nn::Dataset<double> train = clusters<double>(5, 64);
  for (const int failing : {0, 2}) {
    int steps = 0;
    const auto run = [&] {
      nn::train_in_threads<double>(3, [&](nn::Replicas<double>& replicas) {
        nn::Sequential<double> model = model_f64(1);
        nn::Adam<double> opt(model.parameters(), {.lr = 0.02});
        const nn::Loss<double> loss = [&](const ad::Var<double>& output,
                                          const ad::Var<double>& target) {
          if (replicas.rank() == failing && ++steps == 3) {
            throw std::runtime_error("bad batch on replica " + std::to_string(failing));
          }
          return ad::sparse_softmax_cross_entropy(output, target);
        };
        nn::fit(model, loss, opt, train,
                {.epochs = 2, .batch_size = 12, .out = nullptr, .replay = false});
      });
    };
    BOOST_CHECK_EXCEPTION(run(), std::runtime_error, [&](const std::runtime_error& e) {
      return std::string(e.what()) == "bad batch on replica " + std::to_string(failing);
    });
  }
}

// A loop of its own that forgets Replicas::step: the next backward is an error, not a step
// taken silently from each replica's own gradient; a step without a backward is one too.
BOOST_AUTO_TEST_CASE(backward_again_before_step_is_an_error) {
  const auto names_step = [](const ad::Error& e) {
    return std::string(e.what()).find("before step(optimizer)") != std::string::npos;
  };
  BOOST_CHECK_EXCEPTION(
      nn::train_in_threads<double>(2,
                                   [](nn::Replicas<double>& replicas) {
                                     auto model = model_f64(1);
                                     const auto parameters = model.parameters();
                                     replicas.backward(nullptr, {}, 0.5, parameters);
                                     replicas.backward(nullptr, {}, 0.5, parameters);
                                   }),
      ad::Error, names_step);
  BOOST_CHECK_THROW(nn::train_in_threads<double>(2,
                                                 [](nn::Replicas<double>& replicas) {
                                                   auto model = model_f64(1);
                                                   nn::SGD<double> opt(model.parameters(), {});
                                                   replicas.step(opt);
                                                 }),
                    ad::Error);
}

BOOST_AUTO_TEST_CASE(train_in_threads_refuses_a_bad_thread_count) {
  for (const int threads : {0, -1, 1025}) {
    BOOST_CHECK_THROW(nn::train_in_threads<double>(threads, [](nn::Replicas<double>&) {}),
                      ad::Error);
  }
}
