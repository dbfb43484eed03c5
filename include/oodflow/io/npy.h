// NumPy .npy arrays (format versions 1-3): little-endian float16/32/64 (and int32/64, for
// score vectors), C order. Like the safetensors reader it validates the header against the
// real buffer size before exposing the data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "oodflow/io/dtype.h"
#include "oodflow/io/mapped_file.h"
#include "oodflow/io/safetensors.h"

namespace oodflow::io {

/// True when the bytes start with the .npy magic ("\x93NUMPY").
bool is_npy(const void* data, std::size_t size);

/// Parses and validates `size` bytes of a .npy file; `source` names it in error messages.
TensorView parse_npy(const std::uint8_t* data, std::size_t size, const std::string& source);

/// A memory-mapped .npy file.
class NpyFile {
 public:
  explicit NpyFile(const std::string& path);
  const TensorView& array() const { return array_; }
  const MappedFile& file() const { return *file_; }

 private:
  std::shared_ptr<MappedFile> file_;
  TensorView array_;
};

/// Serialises a C-order array as .npy version 1 (dtype F32, F64, F16, I64, I32 or U8).
std::string serialize_npy(DType dtype, const std::vector<std::int64_t>& shape, const void* data);

}  // namespace oodflow::io
