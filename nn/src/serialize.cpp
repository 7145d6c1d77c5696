// Saving and loading models; the format is described in ad/nn/serialize.hpp.

#include <ad/nn/error.hpp>
#include <ad/nn/serialize.hpp>

#include "files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <span>

namespace ad::nn {
namespace {

// The format is little-endian; values are copied as they lie in memory.
static_assert(std::endian::native == std::endian::little, "save/load assume a little-endian host");

constexpr char kMagic[8] = {'A', 'D', 'N', 'N', 'M', 'O', 'D', 'L'};
constexpr std::uint32_t kParametersOnly = 1;  // version 1: no architecture
constexpr std::uint32_t kVersion = 2;
constexpr std::size_t kHeader = 20;  // magic, version, scalar size, P (1) or A (2)
constexpr std::size_t kChecksum = 4;
// Sequentials inside Sequentials deeper than this are refused (the reader recurses).
constexpr int kMaxNesting = 32;

// Layer kinds in the architecture record.
enum class Kind : std::uint32_t { dense = 1, relu, tanh, sigmoid, identity, sequential };

template <class V>
void put(std::vector<unsigned char>& out, V value) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&value);
  out.insert(out.end(), bytes, bytes + sizeof(V));
}

std::uint32_t get_u32(const unsigned char* in, std::size_t offset) {
  std::uint32_t v = 0;
  std::memcpy(&v, in + offset, sizeof v);
  return v;
}

const char* scalar_name(std::uint32_t size) {
  return size == 4 ? "float32" : size == 8 ? "float64" : "an unknown scalar type";
}

// The architecture record of a layer, appended to out; false (out then unusable) if some
// layer is of a kind the format does not describe.
template <class T>
bool describe_architecture(Layer<T>& layer, std::vector<unsigned char>& out) {
  if (auto* dense = dynamic_cast<Dense<T>*>(&layer)) {
    put(out, Kind::dense);
    put(out, static_cast<std::uint32_t>(dense->weight().cols()));
    put(out, static_cast<std::uint32_t>(dense->weight().rows()));
    return true;
  }
  if (auto* sequential = dynamic_cast<Sequential<T>*>(&layer)) {
    put(out, Kind::sequential);
    put(out, static_cast<std::uint32_t>(sequential->size()));
    for (std::size_t i = 0; i < sequential->size(); ++i) {
      if (!describe_architecture((*sequential)[i], out)) return false;
    }
    return true;
  }
  const Kind kind = dynamic_cast<ReLU<T>*>(&layer)       ? Kind::relu
                    : dynamic_cast<Tanh<T>*>(&layer)     ? Kind::tanh
                    : dynamic_cast<Sigmoid<T>*>(&layer)  ? Kind::sigmoid
                    : dynamic_cast<Identity<T>*>(&layer) ? Kind::identity
                                                         : Kind{};
  if (kind == Kind{}) return false;
  put(out, kind);
  return true;
}

// A layer as the architecture record describes it, before anything is built.
struct LayerSpec {
  Kind kind{};
  std::uint32_t in = 0, out = 0;  // Dense
  std::vector<LayerSpec> layers;  // Sequential
};

// Reads an architecture record (which starts at byte `file_offset` of the file), refusing
// what no model could be built from with the file offset of the faulty layer record.
class ArchitectureReader {
 public:
  ArchitectureReader(const std::filesystem::path& path, std::span<const unsigned char> record,
                     std::size_t file_offset)
      : path_(path), record_(record), base_(file_offset) {}

  LayerSpec read() {
    LayerSpec model = layer(0);
    if (at_ != record_.size()) fail(at_, "the architecture has bytes after its last layer");
    return model;
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw FileError(path_,
                    fmt::format("{} (at byte offset {}): the file is corrupt", what, base_ + at));
  }

  std::uint32_t u32(const char* what) {
    if (record_.size() - at_ < 4) fail(at_, fmt::format("the architecture ends inside {}", what));
    const std::uint32_t v = get_u32(record_.data(), at_);
    at_ += 4;
    return v;
  }

  LayerSpec layer(int depth) {
    const std::size_t start = at_;
    LayerSpec spec;
    const std::uint32_t kind = u32("a layer's kind");
    spec.kind = static_cast<Kind>(kind);
    switch (spec.kind) {
      case Kind::dense: {
        spec.in = u32("a dense layer's input size");
        spec.out = u32("a dense layer's output size");
        const std::uint32_t most = std::numeric_limits<std::int32_t>::max();
        if (spec.in == 0 || spec.out == 0 || spec.in > most || spec.out > most) {
          fail(start, fmt::format("a dense layer has {} inputs and {} outputs; each must be in "
                                  "[1, {}]",
                                  spec.in, spec.out, most));
        }
        return spec;
      }
      case Kind::relu:
      case Kind::tanh:
      case Kind::sigmoid:
      case Kind::identity:
        return spec;
      case Kind::sequential: {
        if (depth >= kMaxNesting) {
          fail(start, fmt::format("Sequential layers nest more than {} deep", kMaxNesting));
        }
        const std::uint32_t count = u32("a Sequential's layer count");
        // Each layer takes at least 4 bytes: a count beyond that is corrupt, not an allocation.
        if (count > (record_.size() - at_) / 4) {
          fail(start, fmt::format("a Sequential claims {} layers, more than the {} bytes left "
                                  "of the architecture can describe",
                                  count, record_.size() - at_));
        }
        spec.layers.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) spec.layers.push_back(layer(depth + 1));
        return spec;
      }
    }
    fail(start, fmt::format("unknown layer kind {}", kind));
  }

  const std::filesystem::path& path_;
  std::span<const unsigned char> record_;
  std::size_t base_;
  std::size_t at_ = 0;
};

// The parameter shapes the architecture implies, in model order, checking that each dense
// layer takes the features the layers before it give (`features`: 0 while not yet fixed).
void expected_shapes(const std::filesystem::path& path, const LayerSpec& spec, Index& features,
                     std::vector<Shape>& shapes) {
  if (spec.kind == Kind::sequential) {
    for (const LayerSpec& layer : spec.layers) expected_shapes(path, layer, features, shapes);
  } else if (spec.kind == Kind::dense) {
    if (features != 0 && features != spec.in) {
      throw FileError(path, fmt::format("its architecture is inconsistent: a Dense({} -> {}) "
                                        "follows layers that give {} features",
                                        spec.in, spec.out, features));
    }
    shapes.push_back({spec.out, spec.in});
    shapes.push_back({spec.out, 1});
    features = spec.out;
  }
}

template <class T>
std::unique_ptr<Layer<T>> build(const LayerSpec& spec, std::mt19937_64& rng) {
  switch (spec.kind) {
    case Kind::dense:
      return std::make_unique<Dense<T>>(spec.in, spec.out, rng);
    case Kind::relu:
      return make_activation<T>(Activation::relu);
    case Kind::tanh:
      return make_activation<T>(Activation::tanh);
    case Kind::sigmoid:
      return make_activation<T>(Activation::sigmoid);
    case Kind::identity:
      return make_activation<T>(Activation::identity);
    case Kind::sequential:
      break;
  }
  auto sequential = std::make_unique<Sequential<T>>();
  for (const LayerSpec& layer : spec.layers) sequential->add(build<T>(layer, rng));
  return sequential;
}

// A model file read and checked up to, not including, the comparison with a model: the
// header, the architecture (version 2, if recorded), the parameter shapes, the size and the
// checksum.
struct ModelFile {
  std::uint32_t version = 0;
  std::optional<LayerSpec> architecture;
  std::vector<Shape> shapes;
  std::vector<unsigned char> bytes;  // the whole file
  std::size_t values = 0;            // offset of the first parameter's elements
};

// The file's parameter shapes checked against a model's.
template <class T>
void check_shapes(const std::filesystem::path& path, std::span<const Shape> shapes,
                  const std::vector<Parameter<T>*>& parameters) {
  if (parameters.size() != shapes.size()) {
    throw FileError(path, fmt::format("holds {} parameters but the model has {}", shapes.size(),
                                      parameters.size()));
  }
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const Shape model_shape{parameters[i]->rows(), parameters[i]->cols()};
    if (shapes[i] != model_shape) {
      throw FileError(
          path, fmt::format("parameter {} ({}) is {} in the file but {} in the model", i,
                            parameters[i]->name(), to_string(shapes[i]), to_string(model_shape)));
    }
  }
}

// Reads only what the header shows to be consistent: the parameters are read once the
// file's size is exactly what its header and shapes describe, and `model`'s parameters (if
// given) have those shapes.
template <class T>
ModelFile read_model_file(const std::filesystem::path& path, Layer<T>* model) {
  constexpr std::size_t scalar_size = sizeof(T);
  const detail::InputFile in(path);
  const std::uintmax_t size = in.size();
  unsigned char header[kHeader] = {};
  in.read_at(0,
             std::span(header, static_cast<std::size_t>(std::min<std::uintmax_t>(size, kHeader))),
             "the header");
  if (size < sizeof kMagic || std::memcmp(header, kMagic, sizeof kMagic) != 0) {
    throw FileError(path, "is not a model file: it does not start with ADNNMODL");
  }
  if (size < kHeader + kChecksum) throw FileError(path, "is truncated: it ends inside the header");
  ModelFile file;
  file.version = get_u32(header, 8);
  if (file.version != kVersion && file.version != kParametersOnly) {
    throw FileError(path, fmt::format("has format version {}; this build reads versions {} and {}",
                                      file.version, kParametersOnly, kVersion));
  }
  const std::uint32_t scalar = get_u32(header, 12);
  if (scalar != 4 && scalar != 8) {
    throw FileError(
        path, fmt::format("has scalar size {}; expected 4 or 8: the file is corrupt", scalar));
  }
  // Version 2 puts the architecture (A bytes) between the scalar size and P.
  std::size_t table_at = kHeader;
  std::uint32_t count = get_u32(header, 16);
  if (file.version == kVersion) {
    const std::uint32_t length = get_u32(header, 16);
    // Room for the architecture and P; size >= kHeader + kChecksum was checked above.
    const std::uintmax_t room = size - kHeader - kChecksum;
    if (room < 4 || length > room - 4) {
      throw FileError(path, fmt::format("claims an architecture of {} bytes, more than its {} "
                                        "bytes can hold: it is truncated or corrupt",
                                        length, size));
    }
    std::vector<unsigned char> record(length + std::size_t{4});
    in.read_at(kHeader, record, "the architecture");
    if (length > 0) {
      file.architecture = ArchitectureReader(path, std::span(record).first(length), kHeader).read();
    }
    count = get_u32(record.data(), length);
    table_at = kHeader + length + 4;
  }
  if (count > (size - table_at - kChecksum) / 8) {
    throw FileError(path, fmt::format("claims {} parameters, more than its {} bytes can describe: "
                                      "it is truncated or corrupt",
                                      count, size));
  }
  std::vector<unsigned char> table(8 * std::size_t{count});
  in.read_at(table_at, table, "the parameter shapes");
  // Shapes are 32-bit, so each parameter's byte count fits in 64 bits; their sum is checked
  // against the file's size as it grows.
  std::uint64_t expected = table_at + 8ull * count + kChecksum;
  file.shapes.resize(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    file.shapes[i] = {get_u32(table.data(), 8 * std::size_t{i}),
                      get_u32(table.data(), 8 * std::size_t{i} + 4)};
    expected += static_cast<std::uint64_t>(file.shapes[i].rows) *
                static_cast<std::uint64_t>(file.shapes[i].cols) * scalar;
    if (expected > size) break;
  }
  if (expected != size) {
    throw FileError(path, fmt::format("has {} bytes but its header describes {}{}: it is {}", size,
                                      expected > size ? "more than " : "", expected,
                                      expected > size ? "truncated" : "corrupt"));
  }
  if (scalar != scalar_size) {
    throw FileError(path, fmt::format("holds {} values but the model is {}", scalar_name(scalar),
                                      scalar_name(static_cast<std::uint32_t>(scalar_size))));
  }
  if (file.architecture) {
    Index features = 0;
    std::vector<Shape> implied;
    expected_shapes(path, *file.architecture, features, implied);
    if (implied != file.shapes) {
      throw FileError(path, fmt::format("its architecture has {} parameters of other shapes "
                                        "than the {} it stores: it is corrupt",
                                        implied.size(), count));
    }
  }
  if (model) check_shapes(path, std::span<const Shape>(file.shapes), model->parameters());
  file.bytes = in.read_all(size);
  const std::uint32_t stored = get_u32(file.bytes.data(), file.bytes.size() - kChecksum);
  if (const std::uint32_t actual =
          detail::crc32_of(std::span(file.bytes).first(file.bytes.size() - kChecksum));
      actual != stored) {
    throw FileError(path, fmt::format("is corrupt: its checksum is {:08x} but its contents give "
                                      "{:08x}",
                                      stored, actual));
  }
  file.values = table_at + 8 * std::size_t{count};
  return file;
}

// Copies the file's values into the model's parameters (of the file's shapes).
template <class T>
void assign(const ModelFile& file, Layer<T>& model) {
  std::size_t offset = file.values;
  for (Parameter<T>* p : model.parameters()) {
    const auto n = static_cast<std::size_t>(p->size()) * sizeof(T);
    std::memcpy(p->value().data(), file.bytes.data() + offset, n);
    offset += n;
  }
}

}  // namespace

template <class T>
void save(Layer<T>& model, const std::filesystem::path& path) {
  const auto parameters = model.parameters();
  std::vector<unsigned char> bytes(std::begin(kMagic), std::end(kMagic));
  put(bytes, kVersion);
  put(bytes, static_cast<std::uint32_t>(sizeof(T)));
  std::vector<unsigned char> architecture;
  if (!describe_architecture(model, architecture)) architecture.clear();
  put(bytes, static_cast<std::uint32_t>(architecture.size()));
  bytes.insert(bytes.end(), architecture.begin(), architecture.end());
  put(bytes, static_cast<std::uint32_t>(parameters.size()));
  for (const Parameter<T>* p : parameters) {
    put(bytes, static_cast<std::uint32_t>(p->rows()));
    put(bytes, static_cast<std::uint32_t>(p->cols()));
  }
  for (const Parameter<T>* p : parameters) {
    const auto* data = reinterpret_cast<const unsigned char*>(p->value().data());
    bytes.insert(bytes.end(), data, data + static_cast<std::size_t>(p->size()) * sizeof(T));
  }
  put(bytes, detail::crc32_of(bytes));
  detail::write_atomically(path, bytes);
}

template <class T>
void load(Layer<T>& model, const std::filesystem::path& path) {
  assign(read_model_file(path, &model), model);
}

template <class T>
Sequential<T> load_model(const std::filesystem::path& path) {
  const ModelFile file = read_model_file<T>(path, nullptr);
  if (!file.architecture) {
    throw FileError(path, file.version == kParametersOnly
                              ? "has format version 1, which records no architecture: build the "
                                "model in code and load it with nn::load(model, path)"
                              : "records no architecture (its model had layers of its own "
                                "kinds): build the model in code and load it with "
                                "nn::load(model, path)");
  }
  // The initial values are overwritten: any seed will do.
  std::mt19937_64 rng(0);
  Sequential<T> model;
  if (file.architecture->kind == Kind::sequential) {
    for (const LayerSpec& layer : file.architecture->layers) model.add(build<T>(layer, rng));
  } else {
    model.add(build<T>(*file.architecture, rng));
  }
  // The architecture implies the file's shapes, so this only guards the builder.
  check_shapes(path, std::span<const Shape>(file.shapes), model.parameters());
  assign(file, model);
  return model;
}

template void save(Layer<float>&, const std::filesystem::path&);
template void save(Layer<double>&, const std::filesystem::path&);
template void load(Layer<float>&, const std::filesystem::path&);
template void load(Layer<double>&, const std::filesystem::path&);
template Sequential<float> load_model(const std::filesystem::path&);
template Sequential<double> load_model(const std::filesystem::path&);

}  // namespace ad::nn
