#pragma once
// A scratch directory for one test, removed with everything in it when the test ends.

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace ad_test {

struct TempDir {
  std::filesystem::path path;

  // A fresh directory named prefix-<process id>-<counter> under the system's temporary one.
  explicit TempDir(const std::string& prefix) {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           (prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace ad_test
