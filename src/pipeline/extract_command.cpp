#include "oodflow/pipeline/extract_command.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/pipeline/device.h"

namespace oodflow::pipeline {
namespace {

std::string skipped_json(const std::vector<extract::SkippedImage>& skipped) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : skipped) list.push_back({{"source", s.source}, {"reason", s.reason}});
  return list.dump();
}

// Rows of float32 in a scratch file next to the output, appended as batches come and read
// back in pieces when the feature file is written: extraction keeps flat memory over any
// number of images. The file is removed when done (or by the next writer of the output if
// this process is killed).
class RowSpill {
 public:
  explicit RowSpill(std::string path) : path_(std::move(path)) {
    file_ = std::fopen(path_.c_str(), "w+b");
    OODFLOW_CHECK(file_ != nullptr, "cannot create '" << path_ << "': " << std::strerror(errno));
  }
  ~RowSpill() {
    std::fclose(file_);
    std::remove(path_.c_str());
  }
  RowSpill(const RowSpill&) = delete;
  RowSpill& operator=(const RowSpill&) = delete;

  template <typename T>
  void append(const std::vector<T>& values) {
    if (values.empty()) return;  // fwrite must not see the null data() of an empty vector
    OODFLOW_CHECK(std::fwrite(values.data(), sizeof(T), values.size(), file_) == values.size(),
                  "cannot write '" << path_ << "': " << std::strerror(errno));
  }
  /// Hands the rows written so far to `sink` in pieces of at most 4 MiB.
  void read_back(const std::function<void(const void*, std::size_t)>& sink) {
    OODFLOW_CHECK(std::fflush(file_) == 0 && std::fseek(file_, 0, SEEK_SET) == 0,
                  "cannot read back '" << path_ << "': " << std::strerror(errno));
    std::vector<char> piece(std::size_t{4} << 20);
    std::size_t n = 0;
    while ((n = std::fread(piece.data(), 1, piece.size(), file_)) > 0) sink(piece.data(), n);
    OODFLOW_CHECK(!std::ferror(file_), "cannot read back '" << path_ << "'");
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Everything but the rows, which stay in the spills.
struct ExtractedRows {
  std::vector<std::int64_t> labels;
  std::vector<std::string> sources;
};

// The auxiliary scores the options ask for, one option per score.
std::vector<extract::AuxRequest> aux_requests(const ExtractOptions& o) {
  std::vector<extract::AuxRequest> out;
  for (const auto& [name, text] : o.aux_scores) {
    out.push_back(extract::parse_aux_score(name, text, o.preprocessing));
  }
  return out;
}

// ", with aux scores odin (T=1000,eps=0.0014)" for the log line; "" without any.
std::string aux_names(const ExtractOptions& o) {
  std::string out;
  for (const auto& [name, text] : o.aux_scores) {
    out += (out.empty() ? ", with aux scores " : ", ") + name + " (" + text + ")";
  }
  return out;
}

// A requested score with the spill of its F64 values.
struct AuxSpill {
  extract::AuxRequest request;
  std::unique_ptr<RowSpill> values;
};

void write_extraction(const ExtractOptions& o, const extract::ExtractionSummary& x,
                      const ExtractedRows& rows, RowSpill& features, RowSpill& logits,
                      std::vector<AuxSpill>& aux, const extract::Backbone& backbone,
                      const extract::ImageSource& source, const Shard& shard,
                      std::pair<std::int64_t, std::int64_t> range) {
  io::FeatureFileContents c;
  c.rows = x.rows;
  c.dim = x.dim;
  c.features_stream = [&](const auto& sink) { features.read_back(sink); };
  if (!rows.labels.empty()) c.labels = rows.labels.data();
  if (x.classes > 0) {
    c.logits_stream = [&](const auto& sink) { logits.read_back(sink); };
    c.classes = x.classes;
  }
  c.sources = rows.sources;
  for (AuxSpill& a : aux) {
    RowSpill& spill = *a.values;
    c.aux.push_back({a.request.name, a.request.settings, nullptr,
                     [&spill](const auto& sink) { spill.read_back(sink); }});
  }
  // No timings or thread counts: the same inputs give a byte-identical file.
  c.metadata.insert({{"producer", "oodflow extract"},
                     {"oodflow_version", OODFLOW_VERSION},
                     {"backbone", backbone.describe()},
                     {"preprocessing", extract::to_json(o.preprocessing)},
                     {"source", source.describe()},
                     {"input_shape", nlohmann::json(x.input_shape).dump()},
                     {"skipped", skipped_json(x.skipped)}});
  if (shard.count > 1) {
    c.metadata["shard"] = nlohmann::json{
        {"index", shard.index},
        {"count", shard.count},
        {"batch_size", o.batch_size},
        {"begin", range.first},
        {"end", range.second}}.dump();
  }
  io::write_feature_file(o.out, c);
}

}  // namespace

Shard parse_shard(const std::string& text) {
  Shard s;
  const auto slash = text.find('/');
  bool ok = slash != std::string::npos;
  try {
    std::size_t used = 0;
    if (ok) {
      s.index = std::stoll(text.substr(0, slash), &used);
      ok = used == slash;
      s.count = std::stoll(text.substr(slash + 1), &used);
      ok = ok && used == text.size() - slash - 1;
    }
  } catch (const std::exception&) {
    ok = false;
  }
  OODFLOW_CHECK(
      ok && s.count >= 1 && s.index >= 0 && s.index < s.count,
      "--shard must be I/N with 0 <= I < N (e.g. 0/4 for the first of four), got '" << text << "'");
  return s;
}

std::pair<std::int64_t, std::int64_t> shard_range(const Shard& s, std::int64_t size,
                                                  std::int64_t batch_size) {
  const std::int64_t batches = (size + batch_size - 1) / batch_size;
  // 128-bit products: index * batches cannot overflow for any 64-bit counts.
  __extension__ using Wide = __int128;
  const auto first_image = [&](std::int64_t shard) {
    const auto batch = static_cast<std::int64_t>(static_cast<Wide>(shard) * batches / s.count);
    return std::min(size, batch * batch_size);
  };
  return {first_image(s.index), first_image(s.index + 1)};
}

void validate(const ExtractOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.model.empty(), "--backbone is required");
    OODFLOW_CHECK(!o.data.empty(), "--data is required");
    OODFLOW_CHECK(!o.out.empty(), "--out is required");
    OODFLOW_CHECK(o.out != o.data && o.out != o.model, "--out must differ from the inputs");
    extract::parse_source_format(o.format);
    extract::validate(o.preprocessing);
    OODFLOW_CHECK(o.batch_size >= 1, "--batch-size must be >= 1, got " << o.batch_size);
    OODFLOW_CHECK(o.workers >= 0 && o.workers <= 256,
                  "--workers must be between 0 and 256, got " << o.workers);
    OODFLOW_CHECK(o.threads >= 0, "--threads must be >= 0 (0 = automatic), got " << o.threads);
    if (!o.shard.empty()) parse_shard(o.shard);
    aux_requests(o);
    check_device(o.device);
  });
}

extract::ExtractionSummary run_extract(const ExtractOptions& o) {
  validate(o);
  check_writable(o.out);
  set_compute_threads(o.threads, Workload::kBackbone);
  const auto source =
      extract::open_image_source(o.data, extract::parse_source_format(o.format), o.labels, o.root);
  const Shard shard = o.shard.empty() ? Shard{} : parse_shard(o.shard);
  const auto range = shard_range(shard, source->size(), o.batch_size);
  // An empty shard cannot be a feature file: a usage error, like any value out of range.
  if (range.second == range.first)
    as_usage_error([&] {
      OODFLOW_CHECK(range.second > range.first,
                    "--shard " << o.shard << " selects no image: '" << o.data << "' holds "
                               << source->size() << " images, only "
                               << (source->size() + o.batch_size - 1) / o.batch_size
                               << " batches of --batch-size " << o.batch_size
                               << "; use fewer shards or smaller batches");
    });
  extract::Backbone backbone({o.model, o.method, o.features_key, o.logits_key, o.device});
  spdlog::info("extract: {} of {} images of '{}'{}, backbone '{}', batch {}, {} worker(s){}",
               range.second - range.first, source->size(), o.data,
               shard.count > 1 ? " (shard " + o.shard + ")" : "", o.model, o.batch_size, o.workers,
               aux_names(o));

  if (o.preprocessing.mean.empty() && o.preprocessing.std.empty()) {
    spdlog::warn(
        "extract: no --mean/--std: pixels are only scaled to [0,1]; give the backbone's own "
        "normalisation (e.g. --config configs/extract_imagenet.json, or the preprocessing in "
        "the card scripts/export_backbone.py wrote next to the model)");
  }
  extract::ExtractSettings settings;
  settings.preprocessing = o.preprocessing;
  settings.batch_size = o.batch_size;
  settings.workers = o.workers;
  settings.begin = range.first;
  settings.end = range.second;
  settings.strict = o.strict;
  settings.aux_scores = aux_requests(o);
  RowSpill features(scratch_path_for(o.out, "features"));
  RowSpill logits(scratch_path_for(o.out, "logits"));
  std::vector<AuxSpill> aux;
  for (const extract::AuxRequest& request : settings.aux_scores) {
    aux.push_back(
        {request, std::make_unique<RowSpill>(scratch_path_for(o.out, "aux." + request.name))});
  }
  ExtractedRows rows;
  const extract::ExtractionSummary x =
      extract::stream_features(*source, backbone, settings, [&](extract::FeatureBatch& batch) {
        features.append(batch.features);
        logits.append(batch.logits);
        for (std::size_t k = 0; k < aux.size(); ++k) aux[k].values->append(batch.aux[k].values);
        rows.labels.insert(rows.labels.end(), batch.labels.begin(), batch.labels.end());
        for (auto& name : batch.sources) rows.sources.push_back(std::move(name));
      });
  write_extraction(o, x, rows, features, logits, aux, backbone, *source, shard, range);
  spdlog::info(
      "extract: wrote {} feature vector(s) of dimension {}{} to '{}'; {:.1f} images/s, backbone "
      "{:.0f}% of the time",
      x.rows, x.dim, x.classes == 0 ? "" : fmt::format(" with {} logits", x.classes), o.out,
      x.rows / std::max(x.seconds, 1e-9), 100 * x.backbone_seconds / std::max(x.seconds, 1e-9));
  if (!x.skipped.empty()) {
    std::string names;
    for (std::size_t i = 0; i < x.skipped.size() && i < 5; ++i) {
      names += (i ? ", " : "") + x.skipped[i].source;
    }
    spdlog::warn(
        "extract: skipped {} unreadable image(s): {}{} (listed in the file's metadata "
        "under 'skipped'; --strict makes them errors)",
        x.skipped.size(), names, x.skipped.size() > 5 ? ", ..." : "");
  }
  return x;
}

}  // namespace oodflow::pipeline
