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

// Puts shards in index order after checking that they are one complete, consistent set.
void order_shards(std::vector<io::FeatureFile>* files) {
  const auto shard_of = [](const io::FeatureFile& f) {
    return json::parse(meta(f, "shard"), nullptr, false);
  };
  const json first = shard_of(files->front());
  const std::int64_t count = first.value("count", std::int64_t{0});
  OODFLOW_CHECK(static_cast<std::int64_t>(files->size()) == count,
                "'" << files->front().path() << "' is one of " << count << " shards but "
                    << files->size() << " files were given; merge all shards 0.." << count - 1);
  for (const io::FeatureFile& f : *files) {
    const json s = shard_of(f);
    OODFLOW_CHECK(s.is_object() && s.value("count", std::int64_t{0}) == count &&
                      s.value("batch_size", 0) == first.value("batch_size", 0),
                  "'" << f.path() << "' is not a shard of the same split (shard count and "
                      << "--batch-size) as '" << files->front().path() << "'");
    for (const char* key : {"backbone", "preprocessing", "source"}) {
      OODFLOW_CHECK(meta(f, key) == meta(files->front(), key),
                    "'" << f.path() << "' and '" << files->front().path() << "' differ in their "
                        << key << "; shards must come from one extract command");
    }
  }
  std::sort(files->begin(), files->end(), [&](const io::FeatureFile& a, const io::FeatureFile& b) {
    return shard_of(a)["index"].get<std::int64_t>() < shard_of(b)["index"].get<std::int64_t>();
  });
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t index = shard_of((*files)[static_cast<std::size_t>(i)])["index"];
    OODFLOW_CHECK(index == i, "shard " << i << " of " << count << " is missing ('"
                                       << (*files)[static_cast<std::size_t>(i)].path()
                                       << "' is shard " << index << ")");
  }
}

// The metadata of the merged file: for shards, that of the unsharded extraction.
std::map<std::string, std::string> merged_metadata(const std::vector<io::FeatureFile>& files,
                                                   bool shards) {
  std::map<std::string, std::string> out = files.front().metadata();
  for (const char* key : {"format", "format_version", "count", "dim", "shard"}) out.erase(key);
  if (!shards) {
    json parts = json::array();
    for (const auto& f : files) parts.push_back({{"file", f.path()}, {"count", f.rows()}});
    out = {{"producer", "oodflow merge"}, {"merged_from", parts.dump()}};
    return out;
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
    rows += f.rows();
  }
  std::vector<float> features(static_cast<std::size_t>(rows * head.dim()));
  std::vector<float> logits(static_cast<std::size_t>(rows * classes));
  std::vector<std::int64_t> labels;
  std::vector<std::string> sources;
  bool all_sources = true;
  std::int64_t at = 0;
  for (const auto& f : files) {
    f.read_rows(0, f.rows(), features.data() + at * head.dim());
    if (classes > 0) f.read_logits(0, f.rows(), logits.data() + at * classes);
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
  io::write_feature_file(o.out, c);
  spdlog::info("merge: wrote {} rows of dimension {} from {} {} to '{}'", rows, head.dim(),
               files.size(), shards ? "shards" : "files", o.out);
  return rows;
}

}  // namespace oodflow::pipeline
