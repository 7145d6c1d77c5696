#pragma once
// Reading and writing files safely (files.cpp): readers open only regular files and never
// read more than a file held when it was opened; writers replace a file atomically through a
// temporary beside it, and clean up the temporaries that interrupted saves left behind.

#include <ad/nn/error.hpp>

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace ad::nn::detail {

// A regular file open for reading. A missing file, a directory, a FIFO, a device or a
// socket is an nn::FileError naming the path and what it is; the open never blocks (a FIFO
// without a writer is refused, not waited on).
class InputFile {
 public:
  explicit InputFile(const std::filesystem::path& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // The size when opened: what every read is bounded by.
  std::uintmax_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

  // Reads n bytes at offset, or throws naming the offset if the file holds fewer.
  void read_at(std::uintmax_t offset, std::span<unsigned char> out, const char* what) const;
  // The whole file as it was when opened; an nn::FileError if it is larger than max_bytes.
  std::vector<unsigned char> read_all(std::uintmax_t max_bytes) const;
  // Gives up the descriptor (to gzdopen, which then owns it).
  int release();

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::uintmax_t size_ = 0;
};

// A temporary file beside `target`, named .<target's name>.adnn-tmp-<pid>-<16 hex digits>, so
// that a later save of the same file can recognise it. Created exclusively; removed by the
// destructor unless commit() renamed it over the target.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::filesystem::path& target);
  ~TemporaryFile();
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes all of bytes to the (open) temporary.
  void write(std::span<const unsigned char> bytes);
  // Closes the descriptor without renaming (for a temporary another program writes).
  void close();
  // Flushes the temporary to disk, renames it over the target and flushes the directory.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes bytes to path atomically: the file is either as before or wholly the new content.
// Temporaries of earlier saves of path whose process no longer runs are removed first.
void write_atomically(const std::filesystem::path& path, std::span<const unsigned char> bytes);

// CRC-32 (zlib's) of bytes, the checksum that model and checkpoint files end with.
std::uint32_t crc32_of(std::span<const unsigned char> bytes);

// Removes the temporaries of `target` (named as TemporaryFile names them) whose process no
// longer runs: what saves killed part-way left behind. Temporaries of running processes,
// this one included, are kept. Returns how many were removed.
int remove_stale_temporaries(const std::filesystem::path& target);

}  // namespace ad::nn::detail
