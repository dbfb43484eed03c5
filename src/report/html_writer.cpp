// The HTML page and the SVG files: the plots of a Report, drawn by plot/.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <system_error>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/plot/charts.h"
#include "oodflow/plot/svg.h"
#include "oodflow/report/writers.h"

namespace oodflow::report {
namespace {

using plot::Svg;
using plot::xml_escape;

// XHTML-compatible markup (every element closed, attributes quoted), so that a strict XML
// parser accepts the page as well as a browser does.
constexpr const char* kStyle = R"(
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222222; max-width: 1500px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #dddddd; padding-bottom: 4px; }
p.meta, p.note { color: #555555; font-size: 13px; max-width: 1000px; }
table { border-collapse: collapse; font-size: 13px; margin-top: 12px; }
th, td { border: 1px solid #dddddd; padding: 4px 10px; text-align: right; }
th { background: #f4f4f4; }
td.name { text-align: left; }
div.plots { display: flex; flex-wrap: wrap; gap: 12px; }
div.plots svg { border: 1px solid #eeeeee; }
details { margin-top: 10px; font-size: 13px; }
summary { cursor: pointer; color: #444444; }
)";

std::string fixed(double v, const char* format) {
  if (!std::isfinite(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// A file-name-safe form of a set or detector name: runs of other characters become one '_'.
std::string slug(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.';
    if (keep) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "_" : out;
}

// Every plot in page order: the ROC chart of each OOD set, then its histograms.
struct Plot {
  std::string file;
  Svg svg;
};

// Names that slug() maps to the same file get a number, so no plot overwrites another.
std::string unique_file(const std::string& name, std::set<std::string>* used) {
  std::string file = name + ".svg";
  for (int n = 2; !used->insert(file).second; ++n) file = name + "_" + std::to_string(n) + ".svg";
  return file;
}

std::vector<std::vector<Plot>> make_plots(const Report& r) {
  std::vector<std::vector<Plot>> sets;
  std::set<std::string> used;
  const std::vector<std::string> set_names = r.ood_names();
  for (std::size_t s = 0; s < set_names.size(); ++s) {
    const std::string& set_name = set_names[s];
    std::vector<Plot> plots;
    std::vector<plot::RocEntry> entries;
    for (const DetectorReport& d : r.detectors) {
      const metrics::OodMetrics& m = d.evaluation.ood[s].metrics;
      entries.push_back({d.info.label, d.plots[s].roc, m.auroc, m.fpr95});
    }
    const std::string roc_title = "ROC: " + r.id_name + " vs " + set_name;
    plots.push_back(
        {unique_file("roc_" + slug(set_name), &used), plot::roc_svg(roc_title, entries)});
    for (const DetectorReport& d : r.detectors) {
      plot::HistogramChart chart;
      chart.title = d.info.label + ": " + r.id_name + " vs " + set_name;
      chart.x_label = d.info.score_name;
      chart.id_name = r.id_name;
      chart.ood_name = set_name;
      chart.id = &d.plots[s].id_histogram;
      chart.ood = &d.plots[s].ood_histogram;
      chart.threshold = d.evaluation.ood[s].metrics.threshold95;
      chart.threshold_label = "thr95 = " + fixed(chart.threshold, "%.4g") + " (95% of ID above)";
      plots.push_back({unique_file("hist_" + slug(set_name) + "_" + slug(d.info.label), &used),
                       plot::histogram_svg(chart)});
    }
    sets.push_back(std::move(plots));
  }
  return sets;
}

// Detectors as rows, OOD sets as columns, AUROC / FPR@95TPR in each cell; the best AUROC of
// each set in bold.
std::string summary_table(const Report& r) {
  const std::vector<std::string> sets = r.ood_names();
  std::string t = "<table>\n<tr><th>detector</th>";
  for (const auto& set : sets) t += "<th>" + xml_escape(set) + "</th>";
  t += "</tr>\n";
  for (const DetectorReport& d : r.detectors) {
    t += "<tr><td class=\"name\">" + xml_escape(d.info.label) + "</td>";
    for (std::size_t s = 0; s < sets.size(); ++s) {
      const metrics::OodMetrics& m = d.evaluation.ood[s].metrics;
      bool best = true;
      for (const DetectorReport& other : r.detectors) {
        best = best && m.auroc >= other.evaluation.ood[s].metrics.auroc;
      }
      const std::string cell = fixed(100 * m.auroc, "%.2f") + " / " + fixed(100 * m.fpr95, "%.2f");
      t += best ? "<td><b>" + cell + "</b></td>" : "<td>" + cell + "</td>";
    }
    t += "</tr>\n";
  }
  return t + "</table>\n";
}

std::string full_table(const Report& r) {
  std::string t =
      "<table>\n<tr><th>detector</th><th>OOD set</th><th>n</th><th>AUROC %</th>"
      "<th>FPR@95TPR %</th><th>thr95</th><th>AUPR-In %</th><th>AUPR-Out %</th></tr>\n";
  for (const DetectorReport& d : r.detectors) {
    for (const metrics::SetResult& s : d.evaluation.ood) {
      const metrics::OodMetrics& m = s.metrics;
      t += "<tr><td class=\"name\">" + xml_escape(d.info.label) + "</td><td class=\"name\">" +
           xml_escape(s.name) + "</td><td>" + std::to_string(m.n_ood) + "</td><td>" +
           fixed(100 * m.auroc, "%.2f") + "</td><td>" + fixed(100 * m.fpr95, "%.2f") + "</td><td>" +
           fixed(m.threshold95, "%.6g") + "</td><td>" + fixed(100 * m.aupr_in, "%.2f") +
           "</td><td>" + fixed(100 * m.aupr_out, "%.2f") + "</td></tr>\n";
    }
  }
  return t + "</table>\n";
}

void check_plottable(const Report& r) {
  OODFLOW_CHECK(!r.detectors.empty() && !r.detectors.front().evaluation.ood.empty(),
                "internal: plots need a detector and an OOD set");
}

}  // namespace

std::size_t plot_count(const Report& r) {
  return r.ood_names().size() * (1 + r.detectors.size());
}

void write_html(const Report& r, const std::string& destination) {
  check_plottable(r);
  std::string page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
  page += "<title>oodflow report: " + xml_escape(r.id_name) + "</title>\n";
  page += "<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n";
  page += "<h1>OOD detection report</h1>\n";
  page += "<p class=\"meta\">ID set <b>" + xml_escape(r.id_name) +
          "</b>: " + std::to_string(r.id_count) + " samples from <code>" + xml_escape(r.id_file) +
          "</code>. " + std::to_string(r.detectors.size()) + " detector(s), " +
          std::to_string(r.ood_names().size()) + " OOD set(s).</p>\n";
  page +=
      "<p class=\"note\">ID is the positive class and a higher score means more "
      "in-distribution; a sample is accepted as ID when its score is at least the "
      "threshold. FPR@95TPR is the share of OOD samples accepted at thr95, the largest "
      "threshold that accepts 95% of the ID set (OpenOOD reports the reverse). In the "
      "histograms, each set's bars sum to 1.</p>\n";
  page += "<p class=\"meta\">AUROC % / FPR@95TPR % (best AUROC per set in bold):</p>\n";
  page += summary_table(r);
  page += "<details><summary>Every metric (AUPR-In/Out, thresholds)</summary>\n" + full_table(r) +
          "</details>\n";
  const auto sets = make_plots(r);
  const metrics::Evaluation& e = r.detectors.front().evaluation;
  for (std::size_t s = 0; s < sets.size(); ++s) {
    const metrics::SetResult& set = e.ood[s];
    page += "<h2 id=\"" + xml_escape(slug(set.name)) + "\">" + xml_escape(r.id_name) + " vs " +
            xml_escape(set.name) + " (" + std::to_string(set.metrics.n_ood) +
            " OOD samples)</h2>\n<div class=\"plots\">\n";
    for (const Plot& p : sets[s]) page += p.svg.str(false);
    page += "</div>\n";
  }
  page += "</body>\n</html>\n";
  write_text(page, destination);
}

void write_svg(const Report& r, const std::string& destination) {
  check_plottable(r);
  std::error_code ec;
  std::filesystem::create_directories(destination, ec);
  OODFLOW_CHECK(!ec,
                "cannot create the folder '" << destination << "' for --svg: " << ec.message());
  for (const auto& set : make_plots(r)) {
    for (const Plot& p : set) write_file_atomically(destination + "/" + p.file, p.svg.str(true));
  }
}

}  // namespace oodflow::report
