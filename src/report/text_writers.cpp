// The table, the JSON report and the scores CSV.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "format.h"
#include "oodflow/core/error.h"
#include "oodflow/io/csv.h"
#include "oodflow/report/writers.h"

namespace oodflow::report {
namespace {

using json = nlohmann::ordered_json;
using detail::percent;

constexpr const char* kConvention =
    "ID is the positive class; higher score = more in-distribution; a sample is accepted as ID "
    "when score >= t. auroc = P(ID score > OOD score) + 0.5 P(tie), never flipped. fpr95 = the "
    "fraction of OOD accepted at the largest threshold t (threshold95) that accepts >= 95% of ID "
    "(the ODIN/Energy/KNN convention, not OpenOOD's, which treats OOD as positive). aupr_in / "
    "aupr_out = average precision with ID / OOD positive (step-wise, as scikit-learn). NaN and "
    "-inf scores rank lowest, +inf highest; non-finite numbers are written as null.";

constexpr const char* kFprNote =
    "FPR@95TPR: share of OOD accepted at the threshold (thr95) that keeps 95% of ID "
    "(ID positive; OpenOOD reports the reverse).\n";

json finite_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json nonfinite_json(const metrics::NonFiniteCounts& c) {
  return {{"nan", c.nan}, {"pos_inf", c.pos_inf}, {"neg_inf", c.neg_inf}};
}

json ood_sets_json(const metrics::Evaluation& e) {
  json sets = json::array();
  for (const metrics::SetResult& s : e.ood) {
    const metrics::OodMetrics& m = s.metrics;
    sets.push_back({{"name", s.name},
                    {"file", s.file},
                    {"count", m.n_ood},
                    {"nonfinite", nonfinite_json(m.ood_nonfinite)},
                    {"auroc", m.auroc},
                    {"fpr95", m.fpr95},
                    {"threshold95", finite_or_null(m.threshold95)},
                    {"aupr_in", m.aupr_in},
                    {"aupr_out", m.aupr_out}});
  }
  return sets;
}

json gates_json(const Report& r) {
  json checks = json::array();
  for (const GateResult& g : r.gates) {
    checks.push_back({{"detector", g.detector},
                      {"set", g.set},
                      {"metric", g.metric},
                      {"value", g.value},
                      {"bound", g.bound},
                      {"passed", g.passed}});
  }
  return {{"passed", r.passed()}, {"checks", checks}};
}

json record_json(const DetectorInfo& info) {
  json record = json::parse(info.record, nullptr, false);
  OODFLOW_CHECK(!record.is_discarded() && record.is_object(),
                "internal: the description of '" << info.label << "' is not a JSON object");
  return record;
}

std::string pad(const std::string& s, std::size_t width, bool left_align) {
  if (s.size() >= width) return s;
  const std::string fill(width - s.size(), ' ');
  return left_align ? s + fill : fill + s;
}

// Columns padded to their widest cell, the first left-aligned.
std::string aligned(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(rows.front().size());
  for (std::size_t c = 0; c < width.size(); ++c) {
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < r.size(); ++c) out += (c ? "  " : "") + pad(r[c], width[c], c == 0);
    out += "\n";
  }
  return out;
}

// With several detectors a check names its detector, as the rows of the table do.
std::string failed_gates(const Report& r) {
  std::string out;
  for (const GateResult& g : r.gates) {
    if (g.passed) continue;
    const std::string where = r.detectors.size() > 1 ? g.detector + ": " + g.set : g.set;
    char line[512];
    std::snprintf(line, sizeof line, "GATE FAILED: %s %s = %.4f, bound %.4f\n", where.c_str(),
                  g.metric.c_str(), g.value, g.bound);
    out += line;
  }
  return out;
}

std::string single_table(const Report& r) {
  const metrics::Evaluation& e = r.detectors.front().evaluation;
  std::vector<std::vector<std::string>> rows = {
      {"OOD set", "n", "AUROC%", "FPR@95TPR%", "thr95", "AUPR-In%", "AUPR-Out%", "non-finite"}};
  for (const metrics::SetResult& s : e.ood) {
    const metrics::OodMetrics& m = s.metrics;
    char thr[32];
    std::snprintf(thr, sizeof thr, "%.6g", m.threshold95);
    rows.push_back({s.name, std::to_string(m.n_ood), percent(m.auroc), percent(m.fpr95), thr,
                    percent(m.aupr_in), percent(m.aupr_out),
                    std::to_string(m.ood_nonfinite.total())});
  }
  std::string out = "ID set '" + r.id_name + "': " + std::to_string(r.id_count) + " samples";
  if (e.id_nonfinite.total() > 0) {
    out += ", " + std::to_string(e.id_nonfinite.total()) + " non-finite scores";
  }
  return out + "\n" + aligned(rows) + kFprNote + failed_gates(r);
}

std::string comparison_table(const Report& r) {
  std::vector<std::vector<std::string>> rows = {{"detector"}};
  for (const std::string& name : r.ood_names()) rows[0].push_back(name);
  for (const DetectorReport& d : r.detectors) {
    std::vector<std::string> row = {d.info.label};
    for (const metrics::SetResult& set : d.evaluation.ood) {
      row.push_back(percent(set.metrics.auroc) + " / " + percent(set.metrics.fpr95));
    }
    rows.push_back(row);
  }
  return "ID set '" + r.id_name + "': " + std::to_string(r.id_count) +
         " samples; AUROC% / FPR@95TPR% per OOD set\n" + aligned(rows) + kFprNote + failed_gates(r);
}

}  // namespace

void write_text(const std::string& text, const std::string& destination) {
  detail::Output out(destination);
  out.write(text);
  out.commit();
}

void write_table(const Report& r, const std::string& destination) {
  write_text(r.detectors.size() == 1 ? single_table(r) : comparison_table(r), destination);
}

void write_json(const Report& r, const std::string& destination) {
  json report;
  report["report_format_version"] = kReportFormatVersion;
  report["convention"] = kConvention;
  report["id"] = {{"name", r.id_name}, {"file", r.id_file}, {"count", r.id_count}};
  json detectors = json::array();
  for (const DetectorReport& d : r.detectors) {
    detectors.push_back({{"label", d.info.label},
                         {"detector", record_json(d.info)},
                         {"id_nonfinite", nonfinite_json(d.evaluation.id_nonfinite)},
                         {"ood", ood_sets_json(d.evaluation)}});
  }
  report["detectors"] = detectors;
  report["gates"] = gates_json(r);
  write_text(report.dump(2) + "\n", destination);
}

void write_csv(const Report& r, const std::string& destination) {
  detail::Output out(destination);
  std::string buffer = "set,index,source";
  if (r.detectors.size() == 1) {
    buffer += ",score";
  } else {
    for (const DetectorReport& d : r.detectors) buffer += "," + io::csv_field(d.info.label);
  }
  buffer += "\n";
  const std::vector<metrics::ScoredSet>& sets = r.detectors.front().scored;
  for (std::size_t s = 0; s < sets.size(); ++s) {
    const metrics::ScoredSet& first = sets[s];
    const std::string set_field = io::csv_field(first.name);
    for (std::size_t i = 0; i < first.scores.size(); ++i) {
      buffer += set_field + "," + std::to_string(i) + ",";
      if (!first.sources.empty()) buffer += io::csv_field(first.sources[i]);
      for (const DetectorReport& d : r.detectors) {
        buffer += "," + io::format_score(d.scored[s].scores[i]);
      }
      buffer += "\n";
      if (buffer.size() > (1u << 20)) {
        out.write(buffer);
        buffer.clear();
      }
    }
  }
  out.write(buffer);
  out.commit();
}

}  // namespace oodflow::report
