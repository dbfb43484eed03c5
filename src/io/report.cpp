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

}  // namespace

std::string report_json(const metrics::Evaluation& e, const std::string& detector_json,
                        const std::vector<metrics::GateCheck>& gates) {
  json report;
  report["report_format_version"] = kReportFormatVersion;
  report["convention"] = kConvention;
  const json detector = json::parse(detector_json, nullptr, false);
  OODFLOW_CHECK(!detector.is_discarded(), "internal: detector description is not JSON");
  report["detector"] = detector;
  report["id"] = {{"name", e.id_name},
                  {"file", e.id_file},
                  {"count", e.id_count},
                  {"nonfinite", nonfinite_json(e.id_nonfinite)}};
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
  report["ood"] = sets;
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
  report["gates"] = {{"passed", passed}, {"checks", checks}};
  return report.dump(2) + "\n";
}

std::string report_table(const metrics::Evaluation& e,
                         const std::vector<metrics::GateCheck>& gates) {
  const std::vector<std::string> header = {"OOD set", "n",        "AUROC%",    "FPR@95TPR%",
                                           "thr95",   "AUPR-In%", "AUPR-Out%", "non-finite"};
  std::vector<std::vector<std::string>> rows;
  for (const metrics::SetResult& s : e.ood) {
    const metrics::OodMetrics& m = s.metrics;
    char thr[32];
    std::snprintf(thr, sizeof thr, "%.6g", m.threshold95);
    rows.push_back({s.name, std::to_string(m.n_ood), percent(m.auroc), percent(m.fpr95), thr,
                    percent(m.aupr_in), percent(m.aupr_out),
                    std::to_string(m.ood_nonfinite.total())});
  }
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  std::string out = "ID set '" + e.id_name + "': " + std::to_string(e.id_count) + " samples";
  if (e.id_nonfinite.total() > 0) {
    out += ", " + std::to_string(e.id_nonfinite.total()) + " non-finite scores";
  }
  out += "\n";
  auto emit = [&](const std::vector<std::string>& r) {
    for (std::size_t c = 0; c < r.size(); ++c) {
      out += (c ? "  " : "") + pad(r[c], width[c], c == 0);
    }
    out += "\n";
  };
  emit(header);
  for (const auto& r : rows) emit(r);
  out +=
      "FPR@95TPR: share of OOD accepted at the threshold (thr95) that keeps 95% of ID "
      "(ID positive; OpenOOD reports the reverse).\n";
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
