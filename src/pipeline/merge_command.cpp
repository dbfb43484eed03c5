#include "oodflow/pipeline/merge_command.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
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

// The bytes of a tensor of `width` values of T per row, rows of every input in order: `read(file,
// begin, count, out)` fills one buffer of `chunk_rows` rows at a time, whatever the inputs'
// sizes. `files` must outlive the stream.
template <typename T, typename Read>
io::ByteStream rows_of(const std::vector<io::FeatureFile>& files, std::int64_t width,
                       std::int64_t chunk_rows, Read read) {
  return [&files, width, chunk_rows, read](const auto& sink) {
    std::vector<T> buffer(static_cast<std::size_t>(chunk_rows * width));
    for (const io::FeatureFile& f : files) {
      for (std::int64_t begin = 0; begin < f.rows(); begin += chunk_rows) {
        const std::int64_t count = std::min(chunk_rows, f.rows() - begin);
        read(f, begin, count, buffer.data());
        sink(buffer.data(), static_cast<std::size_t>(count * width) * sizeof(T));
      }
      // Each input's map keeps up to its read budget resident: with many inputs that would
      // add up.
      f.drop_pages();
    }
  };
}

// The source path of every row of every input, in order. `files` must outlive the stream.
io::StringStream sources_of(const std::vector<io::FeatureFile>& files) {
  return [&files](const std::function<void(const std::string&)>& each) {
    for (const io::FeatureFile& f : files) {
      io::FeatureFile::SourceReader paths(f);
      for (std::int64_t i = 0; i < f.rows(); ++i) each(paths.next());
      f.drop_pages();
    }
  };
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

std::int64_t run_merge(const MergeOptions& o, std::int64_t chunk_rows) {
  validate(o);
  OODFLOW_CHECK(chunk_rows > 0, "internal: merge in chunks of " << chunk_rows << " rows");
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
  // Every tensor is streamed from the inputs into the output: no copy of all the rows.
  io::FeatureFileContents c;
  c.rows = rows;
  c.dim = head.dim();
  c.features_stream =
      rows_of<float>(files, head.dim(), chunk_rows,
                     [](const io::FeatureFile& f, std::int64_t begin, std::int64_t count,
                        float* out) { f.read_rows(begin, count, out); });
  if (head.has_labels()) {
    c.labels_stream =
        rows_of<std::int64_t>(files, 1, chunk_rows,
                              [](const io::FeatureFile& f, std::int64_t begin, std::int64_t count,
                                 std::int64_t* out) { f.read_labels(begin, count, out); });
  }
  if (classes > 0) {
    c.logits_stream =
        rows_of<float>(files, classes, chunk_rows,
                       [](const io::FeatureFile& f, std::int64_t begin, std::int64_t count,
                          float* out) { f.read_logits(begin, count, out); });
    c.classes = classes;
  }
  for (const std::string& name : head.aux_score_names()) {
    c.aux.push_back(
        {name, head.aux_settings(name), nullptr,
         rows_of<double>(files, 1, chunk_rows,
                         [name](const io::FeatureFile& f, std::int64_t begin, std::int64_t count,
                                double* out) { f.read_aux(name, begin, count, out); })});
  }
  // Paths only when every input has them: the tensor lists one per row or none.
  const bool all_sources = std::all_of(files.begin(), files.end(),
                                       [](const io::FeatureFile& f) { return f.has_sources(); });
  if (all_sources) c.sources_stream = sources_of(files);
  c.metadata = merged_metadata(files, shards);
  io::write_feature_file(o.out, c);
  spdlog::info("merge: wrote {} rows of dimension {} from {} {} to '{}'", rows, head.dim(),
               files.size(), shards ? "shards" : "files", o.out);
  return rows;
}

}  // namespace oodflow::pipeline
