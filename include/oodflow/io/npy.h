// NumPy .npy arrays as numpy.load(f, allow_pickle=False) of numpy 1.24 reads them: format
// versions 1.0, 2.0 and 3.0; the header a Python literal dict (any key order, quotes, spacing,
// trailing commas, Python 2's `5L`); bool, int8-64, uint8-64 and float16/32/64 data in either
// byte order, C or Fortran order. Arrays oodflow can use in place (C order, little-endian
// float16/32/64, int32/64, uint8) are views of the file; the others are converted into a C-order
// little-endian copy (bool to U8, other integers to I64, floats keep their width). Dtypes numpy
// loads but that are not real numbers (complex, strings, structured, datetime, long double,
// objects) are refused by name. Like the safetensors reader it validates the header against the
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

/// A parsed .npy array. `view` points into the parsed bytes when they are usable in place, else
/// into `converted`, which this object owns (its copies share it).
struct NpyArray {
  TensorView view;
  std::shared_ptr<const std::vector<std::uint8_t>> converted;
};

/// Parses and validates `size` bytes of a .npy file; `source` names it in error messages.
/// Bytes after the data are ignored, as numpy ignores them.
NpyArray parse_npy(const std::uint8_t* data, std::size_t size, const std::string& source);

/// A memory-mapped .npy file.
class NpyFile {
 public:
  explicit NpyFile(const std::string& path);
  const TensorView& array() const { return array_.view; }
  const MappedFile& file() const { return *file_; }

 private:
  std::shared_ptr<MappedFile> file_;
  NpyArray array_;
};

/// Serialises a C-order array as .npy version 1 (dtype F32, F64, F16, I64, I32 or U8).
std::string serialize_npy(DType dtype, const std::vector<std::int64_t>& shape, const void* data);

}  // namespace oodflow::io
