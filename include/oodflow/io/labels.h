// Class labels kept apart from the features: an IDX labels file (MNIST, Fashion-MNIST), an
// integer .npy vector, or an oodflow feature file's `labels` tensor. One reader for `extract`
// (labels of an image array) and `inspect` (labels of a feature file that has none).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oodflow::io {

/// Labels of an IDX labels file (plain or gzip) or of a 1-D integer .npy vector (I64, I32, U8);
/// `count` labels are expected, one per `counted` (e.g. "images", "rows of 'x.safetensors'"),
/// and none may be negative. Throws Error naming `path` otherwise.
std::vector<std::int64_t> read_labels(const std::string& path, std::int64_t count,
                                      const std::string& counted = "images");

/// As read_labels, and also accepts an oodflow feature file (.safetensors) holding labels.
std::vector<std::int64_t> read_labels_any(const std::string& path, std::int64_t count,
                                          const std::string& counted);

}  // namespace oodflow::io
