// SHA-256 digests (hex), used to record exactly which data and model files an output came from.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace oodflow {

/// Lower-case hex SHA-256 of a byte range.
std::string sha256_hex(const void* data, std::size_t size);

/// The same over a range read in pieces: `after_piece(bytes)` is called after each piece of
/// at most `piece` bytes (e.g. to release the pages of a memory-mapped file).
std::string sha256_hex(const void* data, std::size_t size, std::size_t piece,
                       const std::function<void(std::size_t)>& after_piece);

}  // namespace oodflow
