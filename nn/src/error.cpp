#include <ad/nn/error.hpp>

#include <fmt/format.h>

namespace ad::nn {

FileError::FileError(const std::filesystem::path& file, const std::string& what)
    : ad::Error(fmt::format("{}: {}", file.string(), what)), file_(file) {}

}  // namespace ad::nn
