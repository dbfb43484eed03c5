// The outputs of an evaluation: the JSON report (stable keys, for scripts and CI), the table
// people read on stdout, and the per-sample scores CSV. One writer per format.
#pragma once

#include <string>
#include <vector>

#include "oodflow/metrics/evaluation.h"

namespace oodflow::io {

/// Version of the report's key layout; bumped on any incompatible change.
inline constexpr int kReportFormatVersion = 1;

/// The report as JSON text. `detector_json` is a JSON object describing what produced the
/// scores (detector kind, file, architecture, ...). Non-finite numbers are written as null.
std::string report_json(const metrics::Evaluation& evaluation, const std::string& detector_json,
                        const std::vector<metrics::GateCheck>& gates);

/// The human-readable table, with the FPR convention spelled out.
std::string report_table(const metrics::Evaluation& evaluation,
                         const std::vector<metrics::GateCheck>& gates);

/// Several detectors on the same sets: the report with one entry per detector under
/// "detectors" (its description and its OOD metrics), the ID set once, and the gates.
std::string comparison_json(const std::vector<std::string>& detector_jsons,
                            const std::vector<metrics::Evaluation>& evaluations,
                            const std::vector<metrics::GateCheck>& gates);

/// The comparison table: one row per detector, one "AUROC / FPR@95TPR" column per OOD set.
std::string comparison_table(const std::vector<std::string>& labels,
                             const std::vector<metrics::Evaluation>& evaluations,
                             const std::vector<metrics::GateCheck>& gates);

/// Writes "set,index,source,<label>..." rows: every detector's score of every sample.
void write_comparison_scores_csv(const std::string& path, const std::vector<std::string>& labels,
                                 const std::vector<std::vector<metrics::ScoredSet>>& sets);

/// Writes "set,index,source,score" rows for the ID set and every OOD set, atomically.
void write_scores_csv(const std::string& path, const metrics::ScoredSet& id,
                      const std::vector<metrics::ScoredSet>& ood);

}  // namespace oodflow::io
