#pragma once
// Saving and loading a model's parameters.
//
// File format, version 1 (all integers little-endian, unsigned):
//
//   offset  size      field
//   0       8         magic "ADNNMODL"
//   8       4         version (1)
//   12      4         scalar size in bytes: 4 (IEEE float32) or 8 (float64)
//   16      4         P, the number of parameters
//   20      8 P       the shape of each parameter in model order: rows, cols (4 bytes each)
//   20+8P   ...       each parameter's elements, column-major, in model order
//   end-4   4         CRC-32 (zlib's) of every byte before it
//
// Only the parameters are stored, not the architecture: a file is loaded into a model
// built the same way, and every shape is checked. Values are stored bit for bit, so a
// round trip is exact.

#include <ad/nn/module.hpp>

#include <filesystem>

namespace ad::nn {

// Writes to a temporary file in the same directory (.<name>.adnn-tmp-<pid>-<random>),
// flushes it to disk and renames it over `path`, so an interrupted save leaves any earlier
// file intact and no partly written file under `path`. Temporaries that earlier saves of
// `path` left behind when their process was killed are removed first.
template <class T>
void save(Layer<T>& model, const std::filesystem::path& path);

// Checks the header (size, magic, version, scalar type, every shape against the model's)
// before reading the parameters, and the checksum before changing any of them; an
// nn::FileError otherwise. Only a regular file is read (a directory, FIFO or device is
// refused before anything is read from it), and never more than the model needs.
template <class T>
void load(Layer<T>& model, const std::filesystem::path& path);

// Creates path's directory if missing and checks that a file can be written there (by
// creating and removing a temporary beside it), so that a save at the end of a long run
// cannot fail for a reason known at its start. An nn::FileError naming the path otherwise.
void check_writable(const std::filesystem::path& path);

}  // namespace ad::nn
