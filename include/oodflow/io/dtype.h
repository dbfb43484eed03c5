// Element types that appear in feature and score files, and their conversion to float.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace oodflow::io {

enum class DType { F32, F64, F16, BF16, I64, I32, U8 };

/// Bytes per element.
std::size_t dtype_size(DType dtype);
/// The safetensors spelling ("F32", "BF16", ...).
const char* dtype_name(DType dtype);
/// Parses a safetensors dtype name; returns false for names oodflow does not read.
bool parse_dtype_name(const std::string& name, DType* dtype);
/// True for the floating types features may be stored in.
bool is_float_dtype(DType dtype);

/// Converts `count` little-endian elements at `src` (any alignment) to float.
void convert_to_float(DType dtype, const void* src, std::size_t count, float* dst);
/// Converts `count` little-endian elements at `src` (any alignment) to double.
void convert_to_double(DType dtype, const void* src, std::size_t count, double* dst);

/// IEEE half and bfloat16 bit patterns to float (exact).
float half_to_float(std::uint16_t bits);
float bfloat16_to_float(std::uint16_t bits);

}  // namespace oodflow::io
