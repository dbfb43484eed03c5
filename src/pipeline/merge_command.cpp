#include "oodflow/pipeline/merge_command.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::pipeline {
namespace {

using json = nlohmann::json;

std::string meta(const io::FeatureFile& f, const std::string& key) {
  const auto it = f.metadata().find(key);
  return it == f.metadata().end() ? "" : it->second;
}

json parse_meta(const io::FeatureFile& f, const std::string& key) {
  const json j = json::parse(meta(f, key), nullptr, false);
  OODFLOW_CHECK(j.is_object(), "'" << f.path() << "' has malformed '" << key << "' metadata");
  return j;
}

// The settings of every auxiliary score by name, as compared (io::aux_settings_key).
json aux_keys(const io::FeatureFile& f) {
  json out = json::object();
  for (const auto& name : f.aux_score_names())
    out[name] = io::aux_settings_key(f.aux_settings(name));
  return out;
}

// What must agree between shards of one extraction. Paths may differ (the same model or data
// mounted elsewhere on another node); the model's SHA-256, the preprocessing and the source's
// content description may not.
std::string provenance(const io::FeatureFile& f) {
  json backbone = parse_meta(f, "backbone");
  json source = parse_meta(f, "source");
  backbone.erase("path");
  source.erase("path");
  source.erase("labels");
  return json{{"backbone", backbone},     {"preprocessing", meta(f, "preprocessing")},
              {"source", source},         {"labels", f.has_labels()},
              {"logits", f.logits_dim()}, {"aux_scores", aux_keys(f)}}
      .dump();
}

// Rows of a score some inputs lack, or computed with other settings, would make a column that
// means different things in different rows.
void require_same_aux(const io::FeatureFile& f, const io::FeatureFile& head) {
  const auto differ = [&](const std::string& name, const std::string& how) {
    OODFLOW_FAIL("'" << f.path() << "' and '" << head.path() << "' differ in auxiliary score '"
                     << name << "' (" << how << "); all inputs must have the same scores, "
                     << "extracted with the same settings");
  };
  for (const auto& name : head.aux_score_names()) {
    if (!f.has_aux(name)) differ(name, "only the second has it");
    const std::string mine = io::aux_settings_key(f.aux_settings(name));
    const std::string theirs = io::aux_settings_key(head.aux_settings(name));
    if (mine != theirs) differ(name, "settings " + mine + " and " + theirs);
  }
  for (const auto& name : f.aux_score_names()) {
    if (!head.has_aux(name)) differ(name, "only the first has it");
  }
}

std::int64_t shard_int(const json& shard, const char* key, const io::FeatureFile& f) {
  const auto it = shard.find(key);
  OODFLOW_CHECK(it != shard.end() && it->is_number_integer(),
                "'" << f.path() << "' has malformed shard metadata (no '" << key << "')");
  return it->get<std::int64_t>();
}

// Puts shards in index order after checking that they are one complete, consistent set:
// same extraction, same split, every index once, slices that tile the source.
struct ShardRecord {
  std::int64_t index, count, batch_size, begin, end;
};

ShardRecord shard_record(const io::FeatureFile& f) {
  const json s = parse_meta(f, "shard");
  return {shard_int(s, "index", f), shard_int(s, "count", f), shard_int(s, "batch_size", f),
          shard_int(s, "begin", f), shard_int(s, "end", f)};
}

void order_shards(std::vector<io::FeatureFile>* files) {
  std::vector<ShardRecord> shards;
  for (const auto& f : *files) shards.push_back(shard_record(f));
  const ShardRecord first = shards.front();
  const std::string first_path = files->front().path();
  const std::string first_provenance = provenance(files->front());
  const std::int64_t images = parse_meta(files->front(), "source").value("count", std::int64_t{-1});
  std::map<std::int64_t, std::size_t> by_index;
  for (std::size_t i = 0; i < files->size(); ++i) {
    const io::FeatureFile& f = (*files)[i];
    const ShardRecord& s = shards[i];
    OODFLOW_CHECK(s.count == first.count && s.batch_size == first.batch_size,
                  "'" << f.path() << "' is shard " << s.index << " of " << s.count
                      << " with --batch-size " << s.batch_size << " but '" << first_path
                      << "' is one of " << first.count << " with --batch-size " << first.batch_size
                      << "; shards of one split use the same N and --batch-size");
    OODFLOW_CHECK(provenance(f) == first_provenance,
                  "'" << f.path() << "' and '" << first_path
                      << "' come from different extractions (backbone SHA-256, preprocessing, "
                         "source or outputs differ); shards must come from one extract command");
    const auto [it, inserted] = by_index.emplace(s.index, i);
    OODFLOW_CHECK(inserted, "shard " << s.index << " is given twice: '"
                                     << (*files)[it->second].path() << "' and '" << f.path()
                                     << "'");
  }
  std::string missing;
  for (std::int64_t i = 0; i < first.count; ++i) {
    if (by_index.count(i) == 0) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
  }
  OODFLOW_CHECK(missing.empty(), "missing shard(s) " << missing << " of " << first.count << ": "
                                                     << files->size() << " of the " << first.count
                                                     << " shards were given");
  std::vector<io::FeatureFile> ordered;
  std::int64_t expected_begin = 0;
  for (const auto& [index, position] : by_index) {
    const ShardRecord& s = shards[position];
    OODFLOW_CHECK(s.begin == expected_begin,
                  "'" << (*files)[position].path() << "' (shard " << index << ") starts at image "
                      << s.begin << " but the previous shard ends at " << expected_begin);
    expected_begin = s.end;
    ordered.push_back(std::move((*files)[position]));
  }
  OODFLOW_CHECK(expected_begin == images,
                "the shards cover images 0.." << expected_begin << " of a source of " << images);
  *files = std::move(ordered);
}

// The metadata of the merged file: for shards, that of the unsharded extraction.
std::map<std::string, std::string> merged_metadata(const std::vector<io::FeatureFile>& files,
                                                   bool shards) {
  std::map<std::string, std::string> out = files.front().metadata();
  for (const char* key : {"format", "format_version", "count", "dim", "shard"}) out.erase(key);
  if (!shards) {
    json parts = json::array();
    for (const auto& f : files) parts.push_back({{"file", f.path()}, {"count", f.rows()}});
    // write_feature_file records the auxiliary scores' settings.
    return {{"producer", "oodflow merge"}, {"merged_from", parts.dump()}};
  }
  json skipped = json::array();
  for (const auto& f : files) {
    const json s = json::parse(meta(f, "skipped"), nullptr, false);
    if (s.is_array()) skipped.insert(skipped.end(), s.begin(), s.end());
  }
  out["skipped"] = skipped.dump();
  return out;
}

}  // namespace

void validate(const MergeOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.inputs.empty(), "give the feature files to merge");
    OODFLOW_CHECK(!o.out.empty(), "--out is required");
    OODFLOW_CHECK(std::find(o.inputs.begin(), o.inputs.end(), o.out) == o.inputs.end(),
                  "--out must differ from the inputs");
  });
}

std::int64_t run_merge(const MergeOptions& o) {
  validate(o);
  check_writable(o.out);
  std::vector<io::FeatureFile> files;
  for (const auto& path : o.inputs) files.push_back(io::FeatureFile::open(path));
  std::size_t with_shard = 0;
  for (const auto& f : files) with_shard += meta(f, "shard").empty() ? 0 : 1;
  OODFLOW_CHECK(with_shard == 0 || with_shard == files.size(),
                "some inputs are shards of an extraction and some are not; merge the shards "
                "first, then merge the result with the other files");
  const bool shards = with_shard > 0;
  if (shards) order_shards(&files);

  const io::FeatureFile& head = files.front();
  const std::int64_t classes = head.has_logits() ? head.logits_dim() : 0;
  std::int64_t rows = 0;
  for (const auto& f : files) {
    OODFLOW_CHECK(f.dim() == head.dim(), "'" << f.path() << "' has features of dimension "
                                             << f.dim() << " but '" << head.path() << "' has "
                                             << head.dim());
    OODFLOW_CHECK(f.has_labels() == head.has_labels() && f.has_logits() == head.has_logits() &&
                      (!f.has_logits() || f.logits_dim() == classes),
                  "'" << f.path() << "' and '" << head.path()
                      << "' differ in their labels or logits; all inputs must have the same");
    require_same_aux(f, head);
    rows += f.rows();
  }
  std::vector<float> features(static_cast<std::size_t>(rows * head.dim()));
  std::vector<float> logits(static_cast<std::size_t>(rows * classes));
  std::vector<std::int64_t> labels;
  const std::vector<std::string>& aux_names = head.aux_score_names();
  std::vector<std::vector<double>> aux(aux_names.size(),
                                       std::vector<double>(static_cast<std::size_t>(rows)));
  std::vector<std::string> sources;
  bool all_sources = true;
  std::int64_t at = 0;
  for (const auto& f : files) {
    f.read_rows(0, f.rows(), features.data() + at * head.dim());
    if (classes > 0) f.read_logits(0, f.rows(), logits.data() + at * classes);
    for (std::size_t k = 0; k < aux.size(); ++k) {
      f.read_aux(aux_names[k], 0, f.rows(), aux[k].data() + at);
    }
    const auto l = f.labels();
    labels.insert(labels.end(), l.begin(), l.end());
    auto s = f.sources();
    all_sources = all_sources && !s.empty();
    sources.insert(sources.end(), s.begin(), s.end());
    at += f.rows();
  }
  io::FeatureFileContents c;
  c.rows = rows;
  c.dim = head.dim();
  c.features = features.data();
  if (head.has_labels()) c.labels = labels.data();
  if (classes > 0) {
    c.logits = logits.data();
    c.classes = classes;
  }
  if (all_sources) c.sources = std::move(sources);
  c.metadata = merged_metadata(files, shards);
  for (std::size_t k = 0; k < aux.size(); ++k) {
    c.aux.push_back({aux_names[k], head.aux_settings(aux_names[k]), aux[k].data(), {}});
  }
  io::write_feature_file(o.out, c);
  spdlog::info("merge: wrote {} rows of dimension {} from {} {} to '{}'", rows, head.dim(),
               files.size(), shards ? "shards" : "files", o.out);
  return rows;
}

}  // namespace oodflow::pipeline
