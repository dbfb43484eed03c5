// `oodflow merge`: joins feature files into one. Shards written by `extract --shard I/N` are
// checked (same backbone, preprocessing and source; every shard exactly once) and joined in
// shard order, which gives exactly the unsharded file. Other feature files of one dimension
// are concatenated in the order given. Every tensor is copied from the inputs into the output
// a chunk of rows at a time: the memory used does not grow with the number of rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "oodflow/core/defaults.h"

namespace oodflow::pipeline {

struct MergeOptions {
  // Feature files to join.
  std::vector<std::string> inputs;
  // Output feature file.
  std::string out;
};

void validate(const MergeOptions& options);

/// Writes options.out, copying `chunk_rows` rows of an input at a time (tests make it small to
/// cross chunk boundaries); returns the number of rows.
std::int64_t run_merge(const MergeOptions& options, std::int64_t chunk_rows = kStreamChunkRows);

}  // namespace oodflow::pipeline
