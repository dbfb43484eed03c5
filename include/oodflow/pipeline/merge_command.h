// `oodflow merge`: joins feature files into one. Shards written by `extract --shard I/N` are
// checked (same backbone, preprocessing and source; every shard exactly once) and joined in
// shard order, which gives exactly the unsharded file. Other feature files of one dimension
// are concatenated in the order given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oodflow::pipeline {

struct MergeOptions {
  // Feature files to join.
  std::vector<std::string> inputs;
  // Output feature file.
  std::string out;
};

void validate(const MergeOptions& options);

/// Writes options.out; returns the number of rows.
std::int64_t run_merge(const MergeOptions& options);

}  // namespace oodflow::pipeline
