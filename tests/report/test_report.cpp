// The Report and its writers: everything computed once by build_report and only formatted by
// the writers; JSON version 2 for one detector as for several; the HTML page's structure
// (well-formed, self-contained, one <svg> per plot); JUnit and Markdown for CI.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "oodflow/metrics/evaluation.h"
#include "oodflow/metrics/ood_metrics.h"
#include "oodflow/plot/charts.h"
#include "oodflow/report/report.h"
#include "oodflow/report/writers.h"
#include "test_util.h"

namespace oodflow::report {
namespace {

// Labels and set names hold every character XML, CSV and Markdown treat specially.
Report sample_report(std::vector<std::string> labels, const std::string& gates = "") {
  const std::vector<double> id = test::rounded_normals(500, 2.0, 4);
  const std::vector<double> far = test::rounded_normals(400, -1.0, 5);
  const std::vector<double> near = test::rounded_normals(300, 1.0, 6);
  std::vector<DetectorInfo> info;
  std::vector<std::vector<metrics::ScoredSet>> scored;
  double shift = 0;
  for (const std::string& label : labels) {
    info.push_back({label, R"({"kind": "test", "label": ")" + label + R"("})", label + " score"});
    auto moved = [&](std::vector<double> v) {
      for (double& x : v) x += shift;
      return v;
    };
    scored.push_back({{"id", "id.safetensors", moved(id), {}},
                      {"far", "f", moved(far), {}},
                      {"a<b&c|d", "n", moved(near), {}}});
    shift += 0.5;  // the same ranking, other thresholds
  }
  return build_report(info, scored, metrics::parse_gates(gates));
}

std::string written(Writer write, const Report& r) {
  test::TempDir dir;
  write(r, dir.path("out"));
  return test::read_bytes(dir.path("out"));
}

// Checks that every element is closed in order (the page is written as XHTML-compatible
// markup), returning the number of <svg> elements.
std::size_t count_svg_in_balanced_markup(const std::string& page) {
  std::vector<std::string> open;
  std::size_t svgs = 0;
  for (std::size_t at = page.find('<'); at != std::string::npos; at = page.find('<', at + 1)) {
    if (page.compare(at, 2, "<!") == 0 || page.compare(at, 2, "<?") == 0) continue;
    const std::size_t end = page.find('>', at);
    EXPECT_NE(end, std::string::npos);
    std::string tag = page.substr(at + 1, end - at - 1);
    if (tag.front() == '/') {
      const std::string name = tag.substr(1);
      EXPECT_FALSE(open.empty()) << "</" << name << "> closes nothing";
      if (open.empty()) return svgs;
      EXPECT_EQ(open.back(), name) << "at byte " << at;
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" /\n"));
    svgs += name == "svg";
    if (!self_closing) open.push_back(name);
  }
  EXPECT_TRUE(open.empty()) << open.size() << " unclosed, first <" << open.front() << ">";
  return svgs;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(BuildReport, EvaluatesEveryDetectorAndSetOnce) {
  const Report r = sample_report({"flow (glow)", "knn"}, "auroc=0.9,fpr95=0.5");
  ASSERT_EQ(r.detectors.size(), 2u);
  EXPECT_EQ(r.id_name, "id");
  EXPECT_EQ(r.id_count, 500);
  EXPECT_EQ(r.ood_names(), (std::vector<std::string>{"far", "a<b&c|d"}));
  for (const DetectorReport& d : r.detectors) {
    const metrics::ScoredSet& id = d.scored[0];
    ASSERT_EQ(d.evaluation.ood.size(), 2u);
    ASSERT_EQ(d.plots.size(), 2u);
    for (std::size_t s = 0; s < 2; ++s) {
      const metrics::ScoredSet& ood = d.scored[s + 1];
      const metrics::OodMetrics expected = metrics::compute_ood_metrics(id.scores, ood.scores);
      EXPECT_EQ(d.evaluation.ood[s].metrics.auroc, expected.auroc);
      EXPECT_EQ(d.evaluation.ood[s].metrics.threshold95, expected.threshold95);
      const auto roc = metrics::roc_curve(id.scores, ood.scores);
      ASSERT_EQ(d.plots[s].roc.size(), roc.size());
      EXPECT_EQ(d.plots[s].roc[roc.size() / 2].fpr, roc[roc.size() / 2].fpr);
      const SetPlots& p = d.plots[s];
      EXPECT_EQ(p.id_histogram.counts.size(), static_cast<std::size_t>(kHistogramBins));
      EXPECT_EQ(p.id_histogram.lo, p.ood_histogram.lo);
      EXPECT_EQ(p.id_histogram.hi, p.ood_histogram.hi);
      EXPECT_LE(p.id_histogram.lo, expected.threshold95);  // the threshold is on the chart
      EXPECT_GE(p.id_histogram.hi, expected.threshold95);
      EXPECT_EQ(p.id_histogram.finite, 500);
    }
  }
  // Detector-major, then set, then gate order; fpr95 is an upper bound.
  ASSERT_EQ(r.gates.size(), 2u * 2u * 2u);
  EXPECT_EQ(r.gates[0].detector, "flow (glow)");
  EXPECT_EQ(r.gates[0].set, "far");
  EXPECT_EQ(r.gates[0].metric, "auroc");
  EXPECT_FALSE(r.gates[0].upper_bound);
  EXPECT_TRUE(r.gates[1].upper_bound);
  EXPECT_EQ(r.gates[4].detector, "knn");
}

TEST(ReportWriters, FormatTheReportWithoutRecomputingIt) {
  // A value no evaluation of the scores gives: each writer shows it, so none recomputes.
  Report r = sample_report({"knn"});
  r.detectors[0].evaluation.ood[0].metrics.auroc = 0.123456;
  EXPECT_NE(written(write_table, r).find("12.35"), std::string::npos);
  EXPECT_NE(written(write_markdown, r).find("12.35 / "), std::string::npos);
  EXPECT_NE(written(write_html, r).find("12.35 / "), std::string::npos);
  EXPECT_NE(written(write_junit, r).find("auroc=0.123456 "), std::string::npos);
  const auto json = nlohmann::json::parse(written(write_json, r));
  EXPECT_EQ(json["detectors"][0]["ood"][0]["auroc"], 0.123456);
}

TEST(ReportWriters, JsonVersion2HasDetectorsForOneModelAsForSeveral) {
  for (const auto& labels :
       {std::vector<std::string>{"knn"}, std::vector<std::string>{"flow (glow)", "knn"}}) {
    const Report r = sample_report(labels, "auroc=0.99");
    const auto json = nlohmann::json::parse(written(write_json, r));
    EXPECT_EQ(json["report_format_version"], 2);
    EXPECT_EQ(kReportFormatVersion, 2);
    for (const char* key : {"report_format_version", "convention", "id", "detectors", "gates"}) {
      EXPECT_TRUE(json.contains(key)) << key;
    }
    EXPECT_FALSE(json.contains("ood"));
    EXPECT_FALSE(json.contains("detector"));
    EXPECT_EQ(json["id"],
              (nlohmann::json{{"name", "id"}, {"file", "id.safetensors"}, {"count", 500}}));
    ASSERT_EQ(json["detectors"].size(), labels.size());
    for (std::size_t d = 0; d < labels.size(); ++d) {
      const auto& detector = json["detectors"][d];
      EXPECT_EQ(detector["label"], labels[d]);
      EXPECT_EQ(detector["detector"]["kind"], "test");
      EXPECT_EQ(detector["id_nonfinite"]["nan"], 0);
      ASSERT_EQ(detector["ood"].size(), 2u);
      EXPECT_EQ(detector["ood"][1]["name"], "a<b&c|d");
      EXPECT_EQ(detector["ood"][0]["auroc"], r.detectors[d].evaluation.ood[0].metrics.auroc);
    }
    const auto& check = json["gates"]["checks"][0];
    EXPECT_EQ(check["detector"], labels[0]);
    EXPECT_EQ(check["set"], "far");
    EXPECT_EQ(check["metric"], "auroc");
    EXPECT_EQ(check["bound"], 0.99);
    EXPECT_EQ(json["gates"]["passed"], r.passed());
  }
}

TEST(ReportWriters, TableIsPerSetForOneDetectorAndAComparisonForSeveral) {
  const std::string one = written(write_table, sample_report({"knn"}, "auroc=0.999"));
  EXPECT_EQ(one.rfind("ID set 'id': 500 samples\nOOD set ", 0), 0u) << one;
  EXPECT_NE(one.find("AUPR-Out%"), std::string::npos);
  EXPECT_NE(one.find("GATE FAILED: far auroc = "), std::string::npos);
  const std::string two = written(write_table, sample_report({"a", "b"}, "auroc=0.999"));
  EXPECT_EQ(two.rfind("ID set 'id': 500 samples; AUROC% / FPR@95TPR% per OOD set\ndetector", 0), 0u)
      << two;
  EXPECT_NE(two.find("GATE FAILED: b: far auroc = "), std::string::npos);
}

TEST(ReportWriters, CsvHasOneScoreColumnOrOneColumnPerLabel) {
  const std::string one = written(write_csv, sample_report({"knn"}));
  EXPECT_EQ(one.rfind("set,index,source,score\nid,0,,", 0), 0u);
  EXPECT_EQ(count(one, "\n"), 1u + 500 + 400 + 300);
  EXPECT_NE(one.find("\na<b&c|d,0,,"), std::string::npos);
  const std::string two = written(write_csv, sample_report({"x,y", "knn"}));
  EXPECT_EQ(two.rfind("set,index,source,\"x,y\",knn\n", 0), 0u);
}

TEST(ReportWriters, HtmlIsWellFormedSelfContainedAndHasOneSvgPerPlot) {
  const Report r = sample_report({"flow (glow)", "knn"});
  const std::string page = written(write_html, r);
  EXPECT_EQ(plot_count(r), 6u);  // 2 OOD sets x (1 ROC + 2 histograms)
  EXPECT_EQ(count_svg_in_balanced_markup(page), 6u);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* forbidden : {"http:", "https:", "<script", "<link", "<img", "url(", "@import"}) {
    EXPECT_EQ(page.find(forbidden), std::string::npos) << forbidden;
  }
  EXPECT_EQ(page.find("a<b&c"), std::string::npos);  // names are escaped
  EXPECT_NE(page.find("a&lt;b&amp;c"), std::string::npos);
  for (const char* text : {"AUROC", "FPR@95TPR", "AUPR-In", "thr95", "ROC: id vs far"}) {
    EXPECT_NE(page.find(text), std::string::npos) << text;
  }
}

TEST(ReportWriters, SvgFilesAreStandaloneDocumentsOnePerPlot) {
  test::TempDir dir;
  const Report r = sample_report({"flow (glow)", "knn"});
  write_svg(r, dir.path("plots/nested"));
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path("plots/nested"))) {
    names.insert(entry.path().filename().string());
    const std::string svg = test::read_bytes(entry.path().string());
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << entry.path();
    EXPECT_EQ(count_svg_in_balanced_markup(svg), 1u) << entry.path();
  }
  EXPECT_EQ(names.size(), plot_count(r));
  EXPECT_EQ(names.count("roc_far.svg"), 1u);
  EXPECT_EQ(names.count("hist_a_b_c_d_flow_glow.svg"), 1u);

  // Set names that map to one file name still give one file per plot.
  Report clash = sample_report({"flow (glow)", "knn"});
  for (auto& d : clash.detectors) d.evaluation.ood[0].name = "a_b_c_d";
  write_svg(clash, dir.path("clash"));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(dir.path("clash"))) {
    ++files;
  }
  EXPECT_EQ(files, plot_count(clash));
}

TEST(ReportWriters, JunitHasATestCasePerDetectorSetAndGateAndFailsTrippedOnes) {
  const std::string label = "k&n<n>\"'";
  const Report r = sample_report({label, "flow"}, "auroc=0.99,fpr95=0.5");
  const std::string xml = written(write_junit, r);
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites ", 0), 0u);
  EXPECT_EQ(count_svg_in_balanced_markup(xml), 0u);  // balanced elements
  EXPECT_EQ(count(xml, "<testsuite "), 2u);
  EXPECT_EQ(count(xml, "<testcase "), 2u * 2u * 2u);
  std::size_t tripped = 0;
  for (const GateResult& g : r.gates) tripped += !g.passed;
  ASSERT_GT(tripped, 0u);
  EXPECT_EQ(count(xml, "<failure "), tripped);
  EXPECT_NE(xml.find("<testsuites name=\"oodflow\" tests=\"8\" failures=\"" +
                     std::to_string(tripped) + "\""),
            std::string::npos);
  EXPECT_NE(xml.find("classname=\"oodflow.k&amp;n&lt;n&gt;&quot;&#39;\""), std::string::npos);
  EXPECT_EQ(xml.find(label), std::string::npos);
  EXPECT_NE(xml.find("name=\"far auroc &gt;= 0.99\""), std::string::npos);
  EXPECT_NE(xml.find("name=\"far fpr95 &lt;= 0.5\""), std::string::npos);
  EXPECT_NE(xml.find("below the bound 0.99\" type=\"gate\">"), std::string::npos);

  // Without gates: one passing case per detector and set, with its metrics.
  const std::string plain = written(write_junit, sample_report({"knn"}));
  EXPECT_EQ(count(plain, "<testcase "), 2u);
  EXPECT_EQ(count(plain, "<failure"), 0u);
  EXPECT_NE(plain.find("failures=\"0\""), std::string::npos);
  EXPECT_NE(plain.find("<system-out>detector &#39;knn&#39;"), std::string::npos);
}

// The cells of a GFM table row: split at the pipes that are not backslash-escaped.
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  for (std::size_t i = 1; i < row.size(); ++i) {
    if (row[i] == '\\' && i + 1 < row.size()) {
      cell += row.substr(i, 2);
      ++i;
    } else if (row[i] == '|') {
      out.push_back(cell);
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return out;
}

TEST(ReportWriters, MarkdownIsAGfmTableWithEscapedCellsAndTheFailedGates) {
  const Report r = sample_report({"a|b\nc", "knn"}, "auroc=0.99");
  const std::string md = written(write_markdown, r);
  std::vector<std::string> rows;
  std::size_t start = md.find("\n| ");
  ASSERT_NE(start, std::string::npos) << md;
  for (std::size_t at = start + 1; at < md.size() && md[at] == '|';) {
    const std::size_t end = md.find('\n', at);
    rows.push_back(md.substr(at, end - at));
    at = end + 1;
  }
  ASSERT_EQ(rows.size(), 2u + 2u) << md;  // header, separator, a row per detector
  EXPECT_EQ(rows[1], "|:---|---:|---:|");
  for (const std::string& row : rows) {
    EXPECT_EQ(row.back(), '|') << row;
    EXPECT_EQ(cells(row).size(), 3u) << row;
  }
  EXPECT_EQ(cells(rows[0])[2], " a\\<b&c\\|d ");
  EXPECT_EQ(cells(rows[2])[0], " a\\|b c ");
  const metrics::OodMetrics& m = r.detectors[1].evaluation.ood[0].metrics;
  char cell[64];
  std::snprintf(cell, sizeof cell, " %.2f / %.2f ", 100 * m.auroc, 100 * m.fpr95);
  EXPECT_EQ(cells(rows[3])[1], cell);
  EXPECT_NE(md.find("**Failed gates:**"), std::string::npos);
  EXPECT_NE(md.find("- knn on far: auroc = "), std::string::npos);
}

}  // namespace
}  // namespace oodflow::report
