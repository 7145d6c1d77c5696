#pragma once
// Errors of the nn layer that are not misuse of the engine: files that are missing,
// truncated or corrupt, and tools that are not installed.

#include <ad/error.hpp>

#include <filesystem>
#include <string>

namespace ad::nn {

// A file could not be read or written, or its contents are not what they claim to be.
// The message names the file and what is wrong with it.
class FileError : public ad::Error {
 public:
  FileError(const std::filesystem::path& file, const std::string& what);
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

}  // namespace ad::nn
