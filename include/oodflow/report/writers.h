// The formats of a Report, one writer each, all with one signature: they read the report and
// write `destination`, a file written atomically or "-" for stdout (--svg: a folder). None
// computes a metric or a curve; they only format what build_report computed.
#pragma once

#include <cstddef>
#include <string>

#include "oodflow/report/report.h"

namespace oodflow::report {

using Writer = void (*)(const Report& report, const std::string& destination);

/// The table people read: one detector gives a row per OOD set with every metric; several
/// give one row per detector and an "AUROC% / FPR@95TPR%" column per OOD set. Then the
/// failed gates.
void write_table(const Report& report, const std::string& destination);

/// The JSON report, version kReportFormatVersion: id, detectors (each with its record and
/// its OOD sets' metrics) and gates, the same layout for any number of detectors.
/// Non-finite numbers are written as null.
void write_json(const Report& report, const std::string& destination);

/// Per-sample scores: "set,index,source,score" for one detector, "set,index,source,<label>..."
/// (one column per detector) for several.
void write_csv(const Report& report, const std::string& destination);

/// A self-contained HTML page: the tables, and per OOD set the ROC curves of every detector
/// and each detector's ID-vs-OOD histogram with its threshold95.
void write_html(const Report& report, const std::string& destination);

/// The HTML page's plots as standalone SVG files in the folder `destination` (created when
/// missing): roc_<set>.svg and hist_<set>_<detector>.svg.
void write_svg(const Report& report, const std::string& destination);

/// JUnit XML for CI test reporters: a testsuite per detector, a testcase per OOD set and
/// gate (a <failure> when the gate trips), or per OOD set when there are no gates.
void write_junit(const Report& report, const std::string& destination);

/// The comparison table as GitHub-flavoured Markdown, with the ID set, the convention and
/// the failed gates (for $GITHUB_STEP_SUMMARY or a pull-request comment).
void write_markdown(const Report& report, const std::string& destination);

/// Plots in the HTML page and the SVG folder: per OOD set, one ROC chart and one histogram
/// per detector.
std::size_t plot_count(const Report& report);

/// Writes `text` to `destination`: atomically to a file, or to stdout for "-".
void write_text(const std::string& text, const std::string& destination);

}  // namespace oodflow::report
