#include "oodflow/io/dtype.h"

#include <cstring>
#include <limits>

#include "oodflow/core/error.h"

namespace oodflow::io {
namespace {

template <typename T>
T load(const std::uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));  // files give no alignment guarantee
  return value;
}

template <typename Out>
void convert(DType dtype, const void* src, std::size_t count, Out* dst) {
  const auto* p = static_cast<const std::uint8_t*>(src);
  switch (dtype) {
    case DType::F32:
      if constexpr (std::is_same_v<Out, float>) {
        std::memcpy(dst, p, count * sizeof(float));
      } else {
        for (std::size_t i = 0; i < count; ++i) dst[i] = load<float>(p + 4 * i);
      }
      return;
    case DType::F64:
      for (std::size_t i = 0; i < count; ++i) dst[i] = static_cast<Out>(load<double>(p + 8 * i));
      return;
    case DType::F16:
      for (std::size_t i = 0; i < count; ++i)
        dst[i] = half_to_float(load<std::uint16_t>(p + 2 * i));
      return;
    case DType::BF16:
      for (std::size_t i = 0; i < count; ++i) {
        dst[i] = bfloat16_to_float(load<std::uint16_t>(p + 2 * i));
      }
      return;
    case DType::I64:
      for (std::size_t i = 0; i < count; ++i)
        dst[i] = static_cast<Out>(load<std::int64_t>(p + 8 * i));
      return;
    case DType::I32:
      for (std::size_t i = 0; i < count; ++i)
        dst[i] = static_cast<Out>(load<std::int32_t>(p + 4 * i));
      return;
    case DType::U8:
      for (std::size_t i = 0; i < count; ++i) dst[i] = static_cast<Out>(p[i]);
      return;
  }
}

}  // namespace

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F64:
    case DType::I64:
      return 8;
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::F16:
    case DType::BF16:
      return 2;
    case DType::U8:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "F32";
    case DType::F64:
      return "F64";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::I64:
      return "I64";
    case DType::I32:
      return "I32";
    case DType::U8:
      return "U8";
  }
  return "?";
}

bool parse_dtype_name(const std::string& name, DType* dtype) {
  for (DType d :
       {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64, DType::I32, DType::U8}) {
    if (name == dtype_name(d)) {
      *dtype = d;
      return true;
    }
  }
  return false;
}

bool is_float_dtype(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F64 || dtype == DType::F16 || dtype == DType::BF16;
}

void convert_to_float(DType dtype, const void* src, std::size_t count, float* dst) {
  convert(dtype, src, count, dst);
}

void convert_to_double(DType dtype, const void* src, std::size_t count, double* dst) {
  convert(dtype, src, count, dst);
}

float half_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  std::uint32_t out;
  if (exponent == 0x1f) {
    out = sign | 0x7f800000u | (mantissa << 13);  // inf or NaN
  } else if (exponent != 0) {
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    out = sign;  // signed zero
  } else {
    // Subnormal half: renormalise into a normal float.
    std::uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    out = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float value;
  std::memcpy(&value, &out, sizeof(value));
  return value;
}

float bfloat16_to_float(std::uint16_t bits) {
  const std::uint32_t out = static_cast<std::uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &out, sizeof(value));
  return value;
}

}  // namespace oodflow::io
