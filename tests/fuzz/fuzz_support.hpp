#pragma once
// What every harness shares: the fuzzer's bytes as a regular file for readers that take a
// path, and the verdict on an exception (expected and documented, or a finding).

#include <ad/error.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

namespace ad_fuzz {

// A regular file under the system's temporary directory, one per process (libFuzzer's
// -fork and -jobs run several), rewritten for each input and removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("ad-fuzz-" + name + "-" + std::to_string(::getpid()))) {}
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  ~ScratchFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }

  const std::filesystem::path& write(std::span<const std::uint8_t> bytes) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (f == nullptr) fail("cannot create the scratch file " + path_.string());
    const bool written =
        bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (std::fclose(f) != 0 || !written) fail("cannot write the scratch file " + path_.string());
    return path_;
  }

  // The harness's own failure (not the code under test's): stop the run, loudly.
  [[noreturn]] static void fail(const std::string& why) {
    std::fprintf(stderr, "fuzz harness: %s\n", why.c_str());
    std::abort();
  }

 private:
  std::filesystem::path path_;
};

// A finding: an exception the API does not document for this input. Aborting makes
// libFuzzer save the input as a crash reproducer.
[[noreturn]] inline void finding(std::string_view kind, const std::exception& e) {
  std::fprintf(stderr, "FINDING: %.*s %s: %s\n", static_cast<int>(kind.size()), kind.data(),
               typeid(e).name(), e.what());
  std::abort();
}

// An ad::Error is expected, except Eigen's assertion turned into one by debug builds
// (ad/config.hpp): that is an op that let through what Eigen refuses, a bug.
inline void expected(const ad::Error& e) {
  if (std::string_view(e.what()).find("Eigen assertion failed") != std::string_view::npos) {
    finding("Eigen assertion", e);
  }
}

}  // namespace ad_fuzz
