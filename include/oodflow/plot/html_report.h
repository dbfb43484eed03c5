// The report people look at: one self-contained HTML page (inline SVG and CSS, no script, no
// network) with the metrics table and, per OOD set, the ROC curves of every detector and each
// detector's ID-vs-OOD score histogram with its threshold95; and the same plots as standalone
// SVG files for papers.
#pragma once

#include <string>
#include <vector>

#include "oodflow/metrics/evaluation.h"

namespace oodflow::plot {

struct ReportInput {
  std::vector<std::string> labels;               ///< one per detector
  std::vector<std::string> score_names;          ///< what each detector's score is (x axis)
  std::vector<metrics::Evaluation> evaluations;  ///< one per detector
  /// [detector][set]: set 0 is the ID set, then the OOD sets in evaluation order.
  std::vector<std::vector<metrics::ScoredSet>> scored;
};

/// Plots in the report: per OOD set, one ROC chart and one histogram per detector.
std::size_t plot_count(const ReportInput& input);

/// The HTML page.
std::string html_report(const ReportInput& input);

/// Writes every plot as an SVG file into `dir` (created when missing), atomically:
/// roc_<set>.svg and hist_<set>_<detector>.svg; returns their paths.
std::vector<std::string> write_svg_files(const ReportInput& input, const std::string& dir);

}  // namespace oodflow::plot
