#pragma once
// Saving and loading models.
//
//   nn::save(model, "model.bin");
//   nn::Sequential<float> copy = nn::load_model<float>("model.bin");  // no code needed
//   nn::load(model, "model.bin");          // into a model built the same way
//
// File format, version 2 (all integers little-endian, unsigned 32-bit unless said):
//
//   offset  size      field
//   0       8         magic "ADNNMODL"
//   8       4         version (2)
//   12      4         scalar size in bytes: 4 (IEEE float32) or 8 (float64)
//   16      4         A, the architecture's size in bytes (0: not recorded)
//   20      A         the architecture: one layer record, the model itself
//   20+A    4         P, the number of parameters
//   24+A    8 P       the shape of each parameter in model order: rows, cols (4 bytes each)
//   24+A+8P ...       each parameter's elements, column-major, in model order
//   end-4   4         CRC-32 (zlib's) of every byte before it
//
// A layer record is its kind and the kind's fields:
//
//   1 Dense        in, out        (parameters W: out x in, b: out x 1)
//   2 ReLU, 3 Tanh, 4 Sigmoid, 5 Identity
//   6 Sequential   count, then count layer records (nested at most 32 deep)
//
// A model with a layer of another kind (a Layer subclass of one's own) is saved with A = 0:
// its parameters load into a model built in code (load), not through load_model.
//
// Version 1, written before the architecture was recorded, is version 2 without the fields
// A and the architecture (P at offset 16). Both versions load with load(); load_model needs
// the architecture. Values are stored bit for bit, so a round trip is exact.

#include <ad/nn/module.hpp>

#include <filesystem>

namespace ad::nn {

// Writes to a temporary file in the same directory (.<name>.adnn-tmp-<pid>-<random>),
// flushes it to disk and renames it over `path`, so an interrupted save leaves any earlier
// file intact and no partly written file under `path`. Temporaries that earlier saves of
// `path` left behind when their process was killed are removed first.
template <class T>
void save(Layer<T>& model, const std::filesystem::path& path);

// Checks the header (size, magic, version, scalar type, the architecture's consistency,
// every shape against the model's) before reading the parameters, and the checksum before
// changing any of them; an nn::FileError naming the file (and, for a malformed architecture,
// the byte offset) otherwise. Only a regular file is read (a directory, FIFO or device is
// refused before anything is read from it), and never more than its header describes.
template <class T>
void load(Layer<T>& model, const std::filesystem::path& path);

// The model a version 2 file records, built from its architecture, with its parameters: a
// saved Sequential comes back as it was, any other layer as the only layer of a Sequential.
// Checks as load does; an nn::FileError also for a file without an architecture (version
// 1, or a model with layers of its own kinds), or whose scalar type is not T.
template <class T>
Sequential<T> load_model(const std::filesystem::path& path);

// Creates path's directory if missing and checks that a file can be written there (by
// creating and removing a temporary beside it), so that a save at the end of a long run
// cannot fail for a reason known at its start. An nn::FileError naming the path otherwise.
void check_writable(const std::filesystem::path& path);

}  // namespace ad::nn
