// `oodflow extract`: run a TorchScript backbone over a source of images and write the
// feature file (features, logits when the backbone gives them, labels when the source has
// them, source paths, the auxiliary scores asked for) that train and score read. See the
// README (`oodflow extract`, Files).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "oodflow/core/defaults.h"
#include "oodflow/core/threads.h"
#include "oodflow/extract/extractor.h"

namespace oodflow::pipeline {

struct ExtractOptions {
  // TorchScript backbone file.
  std::string model;
  // Images: a folder, a list file, an IDX file (.gz too) or a .npy image array.
  std::string data;
  // Output feature file (.safetensors).
  std::string out;
  // Source format: auto, folder, list, idx or npy.
  std::string format = "auto";
  // Labels of IDX and .npy sources (IDX labels file or integer .npy).
  std::string labels;
  // Data root of a list file's relative paths (OpenOOD's data_dir); empty = the list's folder.
  std::string root;
  // Backbone method and output selection (see extract/backbone.h).
  std::string method = "forward";
  std::string features_key;
  std::string logits_key;
  // Resize, crop, channels, mean and std.
  extract::Preprocessing preprocessing;
  // Images per backbone call.
  std::int64_t batch_size = kImageBatch;
  // Decoding/preprocessing threads; 0 = none (decode between backbone calls).
  int workers = kImageWorkers;
  // LibTorch intra-op threads (and OpenBLAS); 0 = every core (see core/threads.h).
  int threads = kDefaultThreads;
  // cpu, cuda or cuda:N.
  std::string device = "cpu";
  // "I/N": extract only the I-th (0-based) of N contiguous slices of the source.
  std::string shard;
  // Stop at the first unreadable image instead of skipping it.
  bool strict = false;
  // Extraction-time scores to store as well (extract/aux_scores.h), by name, with their
  // option's text: {"odin", "T=1000,eps=0.0014"}; empty = none.
  std::map<std::string, std::string> aux_scores;
};

/// ODIN's defaults as --odin spells them (see extract/aux_scores.h).
using extract::kOdinDefaults;

/// A parsed --shard value.
struct Shard {
  std::int64_t index = 0;
  std::int64_t count = 1;
};
/// "I/N" with 0 <= I < N; throws Error naming --shard otherwise.
Shard parse_shard(const std::string& text);
/// The source indices [begin, end) of shard `s` of `size` images: contiguous runs of whole
/// batches of `batch_size`, so that every image meets the backbone in the same batch as in an
/// unsharded run (matrix-product results can depend on the batch in their last bits) and
/// shards merged in index order are bit-identical to one run with that batch size.
std::pair<std::int64_t, std::int64_t> shard_range(const Shard& s, std::int64_t size,
                                                  std::int64_t batch_size);

void validate(const ExtractOptions& options);

/// Extracts and writes options.out, streaming the rows through scratch files next to it (flat
/// memory); returns the counts, unreadable images and timings.
extract::ExtractionSummary run_extract(const ExtractOptions& options);

}  // namespace oodflow::pipeline
