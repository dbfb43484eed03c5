// The files CI systems read: JUnit XML for test reporters, Markdown for job summaries and
// pull-request comments.
#include <cstdint>
#include <string_view>
#include <vector>

#include "format.h"
#include "oodflow/plot/svg.h"
#include "oodflow/report/writers.h"

namespace oodflow::report {
namespace {

using detail::exact_number;
using detail::percent;

std::string metrics_line(const metrics::OodMetrics& m) {
  return "auroc=" + exact_number(m.auroc) + " fpr95=" + exact_number(m.fpr95) +
         " threshold95=" + exact_number(m.threshold95) + " aupr_in=" + exact_number(m.aupr_in) +
         " aupr_out=" + exact_number(m.aupr_out) + " n_id=" + std::to_string(m.n_id) +
         " n_ood=" + std::to_string(m.n_ood);
}

std::string testcase(const std::string& classname, const std::string& name,
                     const std::string& failure, const std::string& output) {
  std::string t = "    <testcase classname=\"" + plot::xml_escape(classname) + "\" name=\"" +
                  plot::xml_escape(name) + "\" time=\"0\">\n";
  if (!failure.empty()) {
    t += "      <failure message=\"" + plot::xml_escape(failure) + "\" type=\"gate\">" +
         plot::xml_escape(failure) + "&#10;" + plot::xml_escape(output) + "</failure>\n";
  }
  t += "      <system-out>" + plot::xml_escape(output) + "</system-out>\n    </testcase>\n";
  return t;
}

std::string gate_name(const GateResult& g) {
  return g.set + " " + g.metric + (g.upper_bound ? " <= " : " >= ") + exact_number(g.bound);
}

std::string gate_failure(const GateResult& g) {
  return g.metric + " = " + exact_number(g.value) + (g.upper_bound ? " above" : " below") +
         " the bound " + exact_number(g.bound);
}

// One suite per detector: its gates, or with no gates one passing case per OOD set so that
// the metrics still show in the CI's test view.
std::string testsuite(const Report& r, const DetectorReport& d, std::int64_t* tests_total,
                      std::int64_t* failures_total) {
  const std::string classname = "oodflow." + d.info.label;
  std::string cases;
  std::int64_t tests = 0;
  std::int64_t failures = 0;
  for (const metrics::SetResult& set : d.evaluation.ood) {
    const std::string output = "detector '" + d.info.label + "', ID set '" + r.id_name + "' (" +
                               r.id_file + "), OOD set '" + set.name + "' (" + set.file +
                               "): " + metrics_line(set.metrics);
    bool gated = false;
    for (const GateResult& g : r.gates) {
      if (g.detector != d.info.label || g.set != set.name) continue;
      gated = true;
      ++tests;
      failures += !g.passed;
      cases += testcase(classname, gate_name(g), g.passed ? "" : gate_failure(g), output);
    }
    if (!gated) {
      ++tests;
      cases += testcase(classname, set.name + " metrics", "", output);
    }
  }
  *tests_total += tests;
  *failures_total += failures;
  return "  <testsuite name=\"" + plot::xml_escape(classname) + "\" tests=\"" +
         std::to_string(tests) + "\" failures=\"" + std::to_string(failures) +
         "\" errors=\"0\" skipped=\"0\" time=\"0\">\n" + cases + "  </testsuite>\n";
}

// GitHub-flavoured Markdown treats these as syntax (a '|' even inside a code span ends a
// table cell), so they are backslash-escaped; a line break would end the table row.
std::string markdown(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n' || c == '\r') {
      out += ' ';
    } else if (std::string_view("\\`*_[]<>|#~!").find(c) != std::string_view::npos) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string markdown_row(const std::vector<std::string>& cells) {
  std::string row = "|";
  for (const std::string& c : cells) row += " " + c + " |";
  return row + "\n";
}

}  // namespace

void write_junit(const Report& r, const std::string& destination) {
  std::string suites;
  std::int64_t tests = 0;
  std::int64_t failures = 0;
  for (const DetectorReport& d : r.detectors) suites += testsuite(r, d, &tests, &failures);
  write_text("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"oodflow\" tests=\"" +
                 std::to_string(tests) + "\" failures=\"" + std::to_string(failures) +
                 "\" errors=\"0\" time=\"0\">\n" + suites + "</testsuites>\n",
             destination);
}

void write_markdown(const Report& r, const std::string& destination) {
  std::vector<std::string> header = {"detector"};
  std::string separator = "|:---|";
  for (const std::string& name : r.ood_names()) {
    header.push_back(markdown(name));
    separator += "---:|";
  }
  std::string table = markdown_row(header) + separator + "\n";
  for (const DetectorReport& d : r.detectors) {
    std::vector<std::string> row = {markdown(d.info.label)};
    for (const metrics::SetResult& set : d.evaluation.ood) {
      row.push_back(percent(set.metrics.auroc) + " / " + percent(set.metrics.fpr95));
    }
    table += markdown_row(row);
  }
  std::string text = "**OOD detection** (oodflow): ID set " + markdown(r.id_name) + ", " +
                     std::to_string(r.id_count) +
                     " samples; AUROC % / FPR@95TPR % per OOD set.\n\n" + table +
                     "\nID is the positive class and a higher score means more in-distribution; "
                     "FPR@95TPR is the share of OOD accepted at the threshold that keeps 95% of "
                     "ID (OpenOOD reports the reverse).\n";
  std::string failed;
  for (const GateResult& g : r.gates) {
    if (!g.passed) {
      failed += "- " + markdown(g.detector) + " on " + markdown(g.set) + ": " +
                markdown(gate_failure(g)) + "\n";
    }
  }
  if (!failed.empty()) text += "\n**Failed gates:**\n\n" + failed;
  write_text(text, destination);
}

}  // namespace oodflow::report
