// The safetensors container (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte range, then the raw
// little-endian data. Everything read from a header is checked against the real buffer size
// before any data is touched. Readers work on a byte buffer (tests stay in memory); the
// file-level wrappers memory-map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oodflow/io/dtype.h"
#include "oodflow/io/mapped_file.h"

namespace oodflow::io {

/// One tensor inside a buffer; `data` points into memory owned by whoever holds the buffer.
struct TensorView {
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const std::uint8_t* data = nullptr;
  std::size_t nbytes = 0;

  std::int64_t numel() const;
};

/// A parsed safetensors buffer: tensors by name and the string metadata.
struct SafetensorsView {
  std::map<std::string, TensorView> tensors;
  std::map<std::string, std::string> metadata;

  /// Nullptr when absent.
  const TensorView* find(const std::string& name) const;
};

/// Parses and validates `size` bytes; `source` names the file in error messages.
SafetensorsView parse_safetensors(const std::uint8_t* data, std::size_t size,
                                  const std::string& source);

/// A memory-mapped safetensors file together with its parsed view.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  const SafetensorsView& view() const { return view_; }
  const MappedFile& file() const { return *file_; }
  const std::string& path() const { return file_->path(); }
  /// The tensor `name`; throws Error naming the file when it is missing.
  const TensorView& require(const std::string& name) const;

 private:
  std::shared_ptr<MappedFile> file_;
  SafetensorsView view_;
};

/// A tensor to serialise: `data` must hold numel * dtype_size bytes, little-endian.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
  /// Instead of `data`, for tensors larger than memory: called once with a sink for the
  /// tensor's bytes, which must receive exactly numel * dtype_size of them, in order.
  std::function<void(const std::function<void(const void*, std::size_t)>& sink)> stream = nullptr;
};

/// Serialises tensors and metadata; tensors are laid out in name order, so the same inputs
/// always give the same bytes.
std::string serialize_safetensors(const std::vector<TensorSpec>& tensors,
                                  const std::map<std::string, std::string>& metadata);
/// Writes the serialised file to `path` atomically.
void write_safetensors(const std::string& path, const std::vector<TensorSpec>& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace oodflow::io
