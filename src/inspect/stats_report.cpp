#include "oodflow/inspect/stats_report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace oodflow::inspect {
namespace {

using nlohmann::json;

json finite_or_null(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? json(*v) : json(nullptr);
}

// Metadata values are JSON text when oodflow extract wrote them, free text otherwise.
json metadata_json(const std::string& value) {
  if (value.empty()) return nullptr;
  json parsed = json::parse(value, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json(value) : parsed;
}

json pair_json(const std::optional<PairEstimate>& e, bool with_t) {
  if (!e) return nullptr;
  json j = {{"value", finite_or_null(e->value)},
            {"method", e->exact ? "exact" : "sampled"},
            {"pairs", e->pairs}};
  if (with_t) {
    j["t"] = kUniformityT;
    j["seed"] = e->exact ? json(nullptr) : json(e->seed);
    j["standard_error"] = e->exact ? json(nullptr) : finite_or_null(e->standard_error);
  }
  return j;
}

std::string format(const char* pattern, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, pattern, v);
  return buf;
}

std::string number(const std::optional<double>& v, const char* pattern = "%.4g") {
  return v ? format(pattern, *v) : "n/a";
}

// "idx /data/train-images-idx3-ubyte.gz" from extract's JSON, the text itself otherwise.
std::string describe_source(const std::string& value) {
  const json j = metadata_json(value);
  if (j.is_null()) return "(not recorded)";
  if (!j.is_object()) return j.is_string() ? j.get<std::string>() : j.dump();
  std::string out;
  if (j.contains("format") && j["format"].is_string()) out += j["format"].get<std::string>() + " ";
  if (j.contains("path") && j["path"].is_string()) return out + j["path"].get<std::string>();
  return j.dump();
}

// "backbone.pt (sha256 0123abcd...)" from extract's JSON, the text itself otherwise.
std::string describe_backbone(const std::string& value) {
  const json j = metadata_json(value);
  if (j.is_null()) return "(not recorded)";
  if (!j.is_object() || !j.contains("path") || !j["path"].is_string()) {
    return j.is_string() ? j.get<std::string>() : j.dump();
  }
  std::string out = j["path"].get<std::string>();
  if (j.contains("sha256") && j["sha256"].is_string()) {
    out += " (sha256 " + j["sha256"].get<std::string>().substr(0, 16) + "...)";
  }
  return out;
}

std::string class_list(const FeatureStats& s) {
  constexpr std::size_t kShown = 12;
  std::ostringstream out;
  out << s.class_counts.size() << (s.class_counts.size() == 1 ? " class:" : " classes:");
  std::size_t shown = 0;
  for (const auto& [label, count] : s.class_counts) {
    if (shown++ == kShown) {
      out << " ... (" << s.class_counts.size() - kShown << " more in --json)";
      break;
    }
    out << " " << label << ":" << count;
  }
  return out.str();
}

std::string uniformity_line(const FeatureStats& s) {
  if (!s.uniformity) return "n/a (fewer than two usable rows)";
  const PairEstimate& e = *s.uniformity;
  std::ostringstream out;
  // A value within rounding of 0 (all rows alike) prints as 0, not -0.000000.
  out << format("%.6f", std::abs(e.value) < 5e-7 ? 0.0 : e.value) << "  ";
  if (e.exact) {
    out << "exact over all " << e.pairs << " pairs";
  } else {
    out << "sampled (" << e.pairs << " pairs, seed " << e.seed << ", standard error "
        << format("%.2g", e.standard_error) << ")";
  }
  return out.str();
}

std::string tolerance_line(const FeatureStats& s) {
  if (!s.has_labels) return "n/a (no labels; give --labels-from FILE)";
  if (!s.tolerance) return "n/a (no class has two usable rows)";
  return format("%.6f", s.tolerance->value) + "  exact over all " +
         std::to_string(s.tolerance->pairs) + " same-class pairs";
}

}  // namespace

std::string stats_json(const FeatureStats& s) {
  json labels = nullptr;
  if (s.has_labels) {
    json classes = json::array();
    for (const auto& [label, count] : s.class_counts) {
      classes.push_back({{"label", label}, {"count", count}});
    }
    labels = {{"source", s.labels_source}, {"classes", classes}};
  }
  json aux = json::object();
  for (const auto& [name, settings] : s.aux_scores) aux[name] = metadata_json(settings);
  const json j = {
      {"format", "oodflow.inspect"},
      {"format_version", kInspectFormatVersion},
      {"file", s.path},
      {"rows", s.rows},
      {"dim", s.dim},
      {"dtype", s.dtype},
      {"metadata",
       {{"producer", metadata_json(s.producer)},
        {"source", metadata_json(s.source)},
        {"backbone", metadata_json(s.backbone)},
        {"preprocessing", metadata_json(s.preprocessing)}}},
      {"aux_scores", aux},
      {"values", {{"zero", s.zero_values}, {"nan", s.nan_values}, {"inf", s.inf_values}}},
      {"rows_excluded",
       {{"total", s.nonfinite_rows + s.zero_norm_rows},
        {"non_finite", s.nonfinite_rows},
        {"zero_norm", s.zero_norm_rows}}},
      {"usable_rows", s.usable_rows},
      {"norms",
       {{"min", finite_or_null(s.norm_min)},
        {"mean", finite_or_null(s.norm_mean)},
        {"max", finite_or_null(s.norm_max)}}},
      {"spectrum",
       {{"effective_rank", s.effective_rank ? json(*s.effective_rank) : json(nullptr)},
        {"variance_share", s.variance_share},
        {"top_eigenvalue_share", finite_or_null(s.top_eigenvalue_share)},
        {"total_variance", finite_or_null(s.total_variance)}}},
      {"labels", labels},
      {"uniformity", pair_json(s.uniformity, true)},
      {"tolerance", pair_json(s.tolerance, false)}};
  return j.dump(2) + "\n";
}

std::string stats_table(const FeatureStats& s) {
  std::ostringstream out;
  const auto row = [&](const char* name, const std::string& value) {
    char label[40];
    std::snprintf(label, sizeof label, "  %-25s", name);
    out << label << value << "\n";
  };
  out << s.path << "\n";
  row("rows x dim", std::to_string(s.rows) + " x " + std::to_string(s.dim) + " (" + s.dtype + ")");
  row("producer", s.producer.empty() ? "(not recorded)" : s.producer);
  row("source", describe_source(s.source));
  row("backbone", describe_backbone(s.backbone));
  for (const auto& [name, settings] : s.aux_scores) {
    row(("aux score " + name).c_str(), io::aux_settings_key(settings));
  }
  row("zero / NaN / inf values", std::to_string(s.zero_values) + " / " +
                                     std::to_string(s.nan_values) + " / " +
                                     std::to_string(s.inf_values));
  row("rows excluded", std::to_string(s.nonfinite_rows + s.zero_norm_rows) + " (" +
                           std::to_string(s.nonfinite_rows) + " non-finite, " +
                           std::to_string(s.zero_norm_rows) + " zero-norm)");
  row("norm min / mean / max",
      number(s.norm_min) + " / " + number(s.norm_mean) + " / " + number(s.norm_max));
  std::string rank = "n/a (fewer than two usable rows)";
  if (s.effective_rank) {
    rank = std::to_string(*s.effective_rank) + " of " + std::to_string(s.dim);
    if (*s.effective_rank == 0) rank += " (every usable row is the same: no variance)";
    if (s.top_eigenvalue_share) {
      rank += " (top eigenvalue " + format("%.1f", 100 * *s.top_eigenvalue_share) + "%)";
    }
  }
  const std::string rank_name = "effective rank (" + format("%g", 100 * s.variance_share) + "%)";
  row(rank_name.c_str(), rank);
  row("labels", s.has_labels ? class_list(s) + " (from " + s.labels_source + ")" : "none");
  out << "L2-normalised rows:\n";
  row("uniformity (t = 2)", uniformity_line(s));
  row("tolerance", tolerance_line(s));
  return out.str();
}

}  // namespace oodflow::inspect
