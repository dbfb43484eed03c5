// Every default that more than one command or module shares, in one place: a change here
// changes them all, so that `score`, `detect` and calibration keep giving identical scores.
#pragma once

#include <cstdint>

namespace oodflow {

/// Feature rows per scoring pass (score, detect, calibration). A matrix product's last bits
/// can depend on its row count, so the same chunking everywhere gives bit-identical scores.
inline constexpr std::int64_t kScoreBatchRows = 4096;
/// Feature rows per pass of the streaming statistics (standardisation, constant dimensions,
/// knn's bank): bounds their memory.
inline constexpr std::int64_t kStreamChunkRows = 4096;
/// Images per backbone call (extract, detect --images).
inline constexpr std::int64_t kImageBatch = 64;
/// Threads decoding and preprocessing images ahead of the backbone (extract, detect).
inline constexpr int kImageWorkers = 2;
/// Share of the ID training samples held out to calibrate thresholds (train, fit).
inline constexpr double kValFraction = 0.1;
/// Shrinkage a of a covariance towards its mean eigenvalue, (1 - a) S + a tr(S)/d I, so that
/// it is invertible with fewer samples than dimensions: the gaussian and mahalanobis
/// detectors and the flow's Gaussian initialisation, which must agree at step 0.
inline constexpr double kCovarianceShrinkage = 1e-6;
/// KNN with --index ivf: lists probed per query unless --nprobe says otherwise (at most
/// nlist), training rows per list for the k-means of the coarse quantizer (a sample of at
/// most this many per list; faiss advises 39 to 256), and held-out queries on which fit
/// measures the recall against the exact search.
inline constexpr std::int64_t kKnnDefaultNprobe = 32;
inline constexpr std::int64_t kKnnIvfTrainPerList = 64;
inline constexpr std::int64_t kKnnRecallQueries = 1000;

}  // namespace oodflow
