#include "oodflow/io/report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/io/csv.h"

namespace oodflow::io {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kConvention =
    "ID is the positive class; higher score = more in-distribution; a sample is accepted as ID "
    "when score >= t. auroc = P(ID score > OOD score) + 0.5 P(tie), never flipped. fpr95 = the "
    "fraction of OOD accepted at the largest threshold t (threshold95) that accepts >= 95% of ID "
    "(the ODIN/Energy/KNN convention, not OpenOOD's, which treats OOD as positive). aupr_in / "
    "aupr_out = average precision with ID / OOD positive (step-wise, as scikit-learn). NaN and "
    "-inf scores rank lowest, +inf highest; non-finite numbers are written as null.";

json finite_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json nonfinite_json(const metrics::NonFiniteCounts& c) {
  return {{"nan", c.nan}, {"pos_inf", c.pos_inf}, {"neg_inf", c.neg_inf}};
}

std::string percent(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100 * v);
  return buf;
}

std::string pad(const std::string& s, std::size_t width, bool left_align) {
  if (s.size() >= width) return s;
  const std::string fill(width - s.size(), ' ');
  return left_align ? s + fill : fill + s;
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

json id_json(const metrics::Evaluation& e) {
  return {{"name", e.id_name},
          {"file", e.id_file},
          {"count", e.id_count},
          {"nonfinite", nonfinite_json(e.id_nonfinite)}};
}

json gates_json(const std::vector<metrics::GateCheck>& gates) {
  json checks = json::array();
  bool passed = true;
  for (const metrics::GateCheck& g : gates) {
    checks.push_back({{"set", g.set},
                      {"metric", g.metric},
                      {"value", g.value},
                      {"bound", g.bound},
                      {"passed", g.passed}});
    passed = passed && g.passed;
  }
  return {{"passed", passed}, {"checks", checks}};
}

json parse_detector(const std::string& detector_json) {
  json detector = json::parse(detector_json, nullptr, false);
  OODFLOW_CHECK(!detector.is_discarded(), "internal: detector description is not JSON");
  return detector;
}

std::string failed_gates(const std::vector<metrics::GateCheck>& gates) {
  std::string out;
  for (const metrics::GateCheck& g : gates) {
    if (!g.passed) {
      char line[256];
      std::snprintf(line, sizeof line, "GATE FAILED: %s %s = %.4f, bound %.4f\n", g.set.c_str(),
                    g.metric.c_str(), g.value, g.bound);
      out += line;
    }
  }
  return out;
}

constexpr const char* kFprNote =
    "FPR@95TPR: share of OOD accepted at the threshold (thr95) that keeps 95% of ID "
    "(ID positive; OpenOOD reports the reverse).\n";

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

}  // namespace

std::string comparison_json(const std::vector<std::string>& detector_jsons,
                            const std::vector<metrics::Evaluation>& evaluations,
                            const std::vector<metrics::GateCheck>& gates) {
  json report;
  report["report_format_version"] = kReportFormatVersion;
  report["convention"] = kConvention;
  report["id"] = id_json(evaluations.front());
  json detectors = json::array();
  for (std::size_t i = 0; i < evaluations.size(); ++i) {
    detectors.push_back({{"detector", parse_detector(detector_jsons[i])},
                         {"id_nonfinite", nonfinite_json(evaluations[i].id_nonfinite)},
                         {"ood", ood_sets_json(evaluations[i])}});
  }
  report["detectors"] = detectors;
  report["gates"] = gates_json(gates);
  return report.dump(2) + "\n";
}

std::string comparison_table(const std::vector<std::string>& labels,
                             const std::vector<metrics::Evaluation>& evaluations,
                             const std::vector<metrics::GateCheck>& gates) {
  std::vector<std::vector<std::string>> rows = {{"detector"}};
  for (const auto& set : evaluations.front().ood) rows[0].push_back(set.name);
  for (std::size_t i = 0; i < evaluations.size(); ++i) {
    std::vector<std::string> row = {labels[i]};
    for (const auto& set : evaluations[i].ood) {
      row.push_back(percent(set.metrics.auroc) + " / " + percent(set.metrics.fpr95));
    }
    rows.push_back(row);
  }
  const metrics::Evaluation& e = evaluations.front();
  return "ID set '" + e.id_name + "': " + std::to_string(e.id_count) +
         " samples; AUROC% / FPR@95TPR% per OOD set\n" + aligned(rows) + kFprNote +
         failed_gates(gates);
}

void write_comparison_scores_csv(const std::string& path, const std::vector<std::string>& labels,
                                 const std::vector<std::vector<metrics::ScoredSet>>& sets) {
  AtomicFile file(path);
  std::string buffer = "set,index,source";
  for (const auto& label : labels) buffer += "," + csv_field(label);
  buffer += "\n";
  for (std::size_t s = 0; s < sets.front().size(); ++s) {
    const metrics::ScoredSet& first = sets.front()[s];
    for (std::size_t i = 0; i < first.scores.size(); ++i) {
      buffer += csv_field(first.name) + "," + std::to_string(i) + ",";
      if (!first.sources.empty()) buffer += csv_field(first.sources[i]);
      for (const auto& detector : sets) buffer += "," + format_score(detector[s].scores[i]);
      buffer += "\n";
      if (buffer.size() > (1u << 20)) {
        file.write(buffer);
        buffer.clear();
      }
    }
  }
  file.write(buffer);
  file.commit();
}

std::string report_json(const metrics::Evaluation& e, const std::string& detector_json,
                        const std::vector<metrics::GateCheck>& gates) {
  json report;
  report["report_format_version"] = kReportFormatVersion;
  report["convention"] = kConvention;
  report["detector"] = parse_detector(detector_json);
  report["id"] = id_json(e);
  report["ood"] = ood_sets_json(e);
  report["gates"] = gates_json(gates);
  return report.dump(2) + "\n";
}

std::string report_table(const metrics::Evaluation& e,
                         const std::vector<metrics::GateCheck>& gates) {
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
  std::string out = "ID set '" + e.id_name + "': " + std::to_string(e.id_count) + " samples";
  if (e.id_nonfinite.total() > 0) {
    out += ", " + std::to_string(e.id_nonfinite.total()) + " non-finite scores";
  }
  out += "\n" + aligned(rows);
  out += kFprNote;
  out += failed_gates(gates);
  return out;
}

void write_scores_csv(const std::string& path, const metrics::ScoredSet& id,
                      const std::vector<metrics::ScoredSet>& ood) {
  AtomicFile file(path);
  std::string buffer = "set,index,source,score\n";
  auto add_set = [&](const metrics::ScoredSet& set) {
    for (std::size_t i = 0; i < set.scores.size(); ++i) {
      buffer += csv_field(set.name);
      buffer += ',';
      buffer += std::to_string(i);
      buffer += ',';
      if (!set.sources.empty()) buffer += csv_field(set.sources[i]);
      buffer += ',';
      buffer += format_score(set.scores[i]);
      buffer += '\n';
      if (buffer.size() > (1u << 20)) {
        file.write(buffer);
        buffer.clear();
      }
    }
  };
  add_set(id);
  for (const auto& set : ood) add_set(set);
  file.write(buffer);
  file.commit();
}

}  // namespace oodflow::io
