// `oodflow detect`: a model (flow or baseline detector) judges new samples, given as a feature
// file or as images run through the backbone and preprocessing recorded in the model. One
// verdict per sample (in/out at a threshold calibrated on held-out ID data, or given),
// streamed, so memory stays flat over millions of samples.
#pragma once

#include <cstdint>
#include <string>

#include "oodflow/core/defaults.h"
#include "oodflow/core/threads.h"
#include "oodflow/metrics/ood_metrics.h"

namespace oodflow::pipeline {

struct DetectOptions {
  // Model file (from fit or train).
  std::string model;
  // What to judge: a feature file, or images (a folder, list file, IDX or .npy array).
  std::string features;
  std::string images;
  // Image source format: auto, folder, list, idx or npy.
  std::string source_format = "auto";
  // Data root of a list file's relative paths; empty = the list's folder.
  std::string root;
  // The backbone to run on images; empty = the one recorded in the model. Its SHA-256 must
  // be the recorded one unless allow_backbone_mismatch.
  std::string backbone;
  bool allow_backbone_mismatch = false;
  // Verdicts file; empty or "-" = stdout.
  std::string out;
  // csv or jsonl.
  std::string format = "csv";
  // Share of ID samples to accept: picks the threshold from the model's calibration.
  double tpr = metrics::kTprLevel;
  // An explicit threshold instead (has_threshold); it takes precedence over tpr.
  double threshold = 0;
  bool has_threshold = false;
  // Exit with kExitGateFailed when any sample is judged out of distribution, unreadable or
  // invalid.
  bool fail_on_ood = false;
  // Rows per scoring pass (features) or images per backbone call (images); 0 =
  // kScoreBatchRows / kImageBatch (core/defaults.h).
  std::int64_t batch_size = 0;
  // Image decoding threads.
  int workers = kImageWorkers;
  // Compute threads; 0 = automatic.
  int threads = kDefaultThreads;
  std::string device = "cpu";
  // Stop at the first unreadable image instead of reporting it.
  bool strict = false;
};

struct DetectSummary {
  std::int64_t samples = 0;     ///< scored samples
  std::int64_t flagged = 0;     ///< judged out of distribution
  std::int64_t unreadable = 0;  ///< images that could not be read
  std::int64_t invalid = 0;     ///< feature rows with a NaN/inf value (not scored)
  double threshold = 0;
};

void validate(const DetectOptions& options);

/// Judges every sample and writes the verdicts. `summary`, when given, receives the counts.
/// Returns 0, or kExitGateFailed with fail_on_ood when a sample was flagged.
int run_detect(const DetectOptions& options, DetectSummary* summary = nullptr);

}  // namespace oodflow::pipeline
