// Reading only regular files, bounded by their size; writing atomically through
// recognisable temporaries (files.hpp).

#include "files.hpp"

#include <ad/nn/serialize.hpp>

#include <fmt/format.h>
#include <zlib.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

namespace ad::nn::detail {
namespace {

constexpr std::string_view kTemporaryMarker = ".adnn-tmp-";
constexpr std::size_t kRandomDigits = 16;

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string error_text(int code) { return std::strerror(code); }

std::filesystem::path directory_of(const std::filesystem::path& file) {
  return file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
}

// The prefix every temporary of `target` starts with.
std::string temporary_prefix(const std::filesystem::path& target) {
  // Appended piece by piece: GCC 12 reports a false -Wrestrict for "." + std::string.
  std::string prefix = ".";
  prefix += target.filename().string();
  prefix += kTemporaryMarker;
  return prefix;
}

// The process that created a temporary, from the rest of its name after the prefix
// ("<pid>-<16 hex digits>"); 0 if the rest is not of that form.
pid_t creator_of(std::string_view rest) {
  const auto dash = rest.find('-');
  if (dash == std::string_view::npos || rest.size() - dash - 1 != kRandomDigits) return 0;
  const std::string_view digits = rest.substr(dash + 1);
  if (digits.find_first_not_of("0123456789abcdef") != std::string_view::npos) return 0;
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + dash, pid);
  if (ec != std::errc() || end != rest.data() + dash || pid <= 0) return 0;
  return pid;
}

void flush_directory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the rename is done; only its durability across a crash is at stake
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

InputFile::InputFile(const std::filesystem::path& path) : path_(path) {
  // stat first, so that nothing is opened that is not a regular file (opening some devices
  // acts on them); fstat again after opening, in case the path changed in between.
  struct stat before {};
  if (::stat(path.c_str(), &before) != 0) {
    const int code = errno;
    if (code == ENOENT) throw FileError(path, "no such file");
    throw FileError(path, fmt::format("cannot be read: {}", error_text(code)));
  }
  if (!S_ISREG(before.st_mode)) {
    throw FileError(path, fmt::format("is {}, not a regular file", kind_of(before.st_mode)));
  }
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd_ < 0) throw FileError(path, fmt::format("cannot be opened: {}", error_text(errno)));
  struct stat after {};
  if (::fstat(fd_, &after) != 0 || !S_ISREG(after.st_mode)) {
    const std::string why =
        fmt::format("changed while being opened: it is now {}", kind_of(after.st_mode));
    ::close(fd_);
    throw FileError(path, why);
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<std::uintmax_t>(after.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read_at(std::uintmax_t offset, std::span<unsigned char> out,
                        const char* what) const {
  for (std::size_t done = 0; done < out.size();) {
    const ssize_t n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw FileError(path_, fmt::format("cannot be read at byte offset {} ({}): {}", offset + done,
                                         what, error_text(errno)));
    }
    if (n == 0) {
      throw FileError(path_, fmt::format("shrank while being read: it ends at byte offset {}, "
                                         "inside {} (bytes {} to {})",
                                         offset + done, what, offset, offset + out.size()));
    }
    done += static_cast<std::size_t>(n);
  }
}

std::vector<unsigned char> InputFile::read_all(std::uintmax_t max_bytes) const {
  if (size_ > max_bytes) {
    throw FileError(path_,
                    fmt::format("is {} bytes, more than the limit of {} bytes", size_, max_bytes));
  }
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size_));
  read_at(0, bytes, "the file");
  return bytes;
}

int InputFile::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

TemporaryFile::TemporaryFile(const std::filesystem::path& target) : target_(target) {
  std::random_device entropy;
  for (int attempt = 1;; ++attempt) {
    const std::uint64_t random = (std::uint64_t{entropy()} << 32) | entropy();
    path_ = target.parent_path() /
            fmt::format("{}{}-{:0{}x}", temporary_prefix(target), getpid(), random, kRandomDigits);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ >= 0) return;
    if (errno != EEXIST || attempt == 8) {
      throw FileError(path_, fmt::format("cannot be created (to write {}): {}", target.string(),
                                         error_text(errno)));
    }
  }
}

TemporaryFile::~TemporaryFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(path_.c_str());
}

void TemporaryFile::write(std::span<const unsigned char> bytes) {
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw FileError(path_, fmt::format("cannot be written (to write {}): {}", target_.string(),
                                         n < 0 ? error_text(errno) : "no space written"));
    }
    done += static_cast<std::size_t>(n);
  }
}

void TemporaryFile::close() {
  if (fd_ < 0) return;
  const int result = ::close(fd_);
  fd_ = -1;
  if (result != 0) {
    throw FileError(path_, fmt::format("cannot be closed: {}", error_text(errno)));
  }
}

void TemporaryFile::commit() {
  if (fd_ < 0) fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0 || ::fsync(fd_) != 0) {
    throw FileError(path_, fmt::format("cannot be flushed: {}", error_text(errno)));
  }
  close();
  if (::rename(path_.c_str(), target_.c_str()) != 0) {
    throw FileError(target_, fmt::format("cannot be replaced: {}", error_text(errno)));
  }
  committed_ = true;
  flush_directory(directory_of(target_));
}

void write_atomically(const std::filesystem::path& path, std::span<const unsigned char> bytes) {
  remove_stale_temporaries(path);
  TemporaryFile temporary(path);
  temporary.write(bytes);
  temporary.commit();
}

std::uint32_t crc32_of(std::span<const unsigned char> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // crc32 takes at most 4 GiB at a time.
  for (std::size_t done = 0; done < bytes.size();) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(bytes.size() - done, 1u << 30));
    crc = crc32(crc, bytes.data() + done, chunk);
    done += chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

int remove_stale_temporaries(const std::filesystem::path& target) {
  const std::string prefix = temporary_prefix(target);
  int removed = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(directory_of(target), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const pid_t creator = creator_of(std::string_view(name).substr(prefix.size()));
    // Only a temporary whose process is gone is stale: one of a running process (or of a
    // process this one may not signal) may be a save in progress.
    if (creator == 0 || creator == getpid()) continue;
    if (::kill(creator, 0) == 0 || errno != ESRCH) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(it->path().c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace ad::nn::detail

namespace ad::nn {

void check_writable(const std::filesystem::path& path) {
  const std::filesystem::path directory = detail::directory_of(path);
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    throw FileError(directory, fmt::format("cannot be created (the directory of {}): {}",
                                           path.string(), ec.message()));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    throw FileError(
        path, fmt::format("is {}; a file cannot be written there", detail::kind_of(st.st_mode)));
  }
  const detail::TemporaryFile probe(path);
}

}  // namespace ad::nn
