// The outputs of `oodflow inspect`: a table for people and JSON for scripts. JSON keys (stable;
// kInspectFormatVersion is bumped on any incompatible change; null where a figure does not
// exist):
//   format "oodflow.inspect", format_version, file, rows, dim, dtype,
//   metadata {producer, source, backbone, preprocessing}: strings as stored, or parsed
//     when they are JSON,
//     null when absent (e.g. a .npy file),
//   aux_scores {NAME: settings object, ...}: the auxiliary scores, {} when none,
//   values {zero, nan, inf}: counts over all rows x dim values (as read, float32),
//   rows_excluded {total, non_finite, zero_norm}, usable_rows,
//   norms {min, mean, max}: L2 norms of the usable rows,
//   spectrum {effective_rank, variance_share, top_eigenvalue_share, total_variance},
//   labels: null, or {source, classes: [{label, count}, ...] ascending by label},
//   uniformity: null, or {value, t, method "exact"|"sampled", pairs, seed, standard_error}
//     (seed and standard_error null when exact),
//   tolerance: null, or {value, method "exact", pairs}.
#pragma once

#include <string>

#include "oodflow/inspect/feature_stats.h"

namespace oodflow::inspect {

// 2: every auxiliary score with its settings as `aux_scores` (1 had one score's in metadata).
inline constexpr int kInspectFormatVersion = 2;

/// The figures as JSON text (pretty-printed).
std::string stats_json(const FeatureStats& stats);

/// The figures as a table for the terminal.
std::string stats_table(const FeatureStats& stats);

}  // namespace oodflow::inspect
