// SHA-256 digests (hex), used to record exactly which data and model files an output came from.
#pragma once

#include <cstddef>
#include <string>

namespace oodflow {

/// Lower-case hex SHA-256 of a byte range.
std::string sha256_hex(const void* data, std::size_t size);

}  // namespace oodflow
