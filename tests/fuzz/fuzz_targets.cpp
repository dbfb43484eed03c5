#include "fuzz_targets.h"

#include <unistd.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/io/dtype.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/idx.h"
#include "oodflow/io/image_list.h"
#include "oodflow/io/npy.h"
#include "oodflow/io/safetensors.h"
#include "oodflow/io/score_file.h"

namespace oodflow::fuzz {
namespace {

// Reads every element, so that a view reaching past its buffer shows up under ASan.
double touch(const io::TensorView& t) {
  if (io::is_float_dtype(t.dtype)) {
    std::vector<double> values(static_cast<std::size_t>(t.numel()));
    io::convert_to_double(t.dtype, t.data, values.size(), values.data());
    double sum = 0;
    for (double v : values) sum += std::isfinite(v) ? v : 0;
    return sum;
  }
  double sum = 0;
  for (std::size_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
  return sum;
}

volatile double sink;

}  // namespace

void safetensors(const std::uint8_t* data, std::size_t size) {
  const io::SafetensorsView view = io::parse_safetensors(data, size, "fuzz.safetensors");
  for (const auto& [name, tensor] : view.tensors) sink = touch(tensor);
}

void npy(const std::uint8_t* data, std::size_t size) {
  sink = touch(io::parse_npy(data, size, "fuzz.npy").view);
}

void idx(const std::uint8_t* data, std::size_t size) {
  if (io::is_gzip(data, size)) {
    const std::string plain = io::gunzip(data, size, "fuzz.gz", std::size_t{64} << 20);
    const io::IdxView view =
        io::parse_idx(reinterpret_cast<const std::uint8_t*>(plain.data()), plain.size(), "fuzz.gz");
    sink = view.nbytes > 0 ? view.data[view.nbytes - 1] : 0;
    return;
  }
  const io::IdxView view = io::parse_idx(data, size, "fuzz.idx");
  sink = view.nbytes > 0 ? view.data[view.nbytes - 1] : 0;
}

// Feature files are opened by path (memory-mapped): the bytes go to a file first.
void feature_file(const std::uint8_t* data, std::size_t size) {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr ? dir : "/tmp") + "/oodflow_fuzz_" +
           std::to_string(::getpid()) + ".safetensors";
  }();
  write_file_atomically(path, std::string_view(reinterpret_cast<const char*>(data), size));
  const io::FeatureFile f = io::FeatureFile::open(path);
  std::vector<float> rows(static_cast<std::size_t>(f.dim()));
  for (std::int64_t i = 0; i < f.rows() && i < 4096; ++i) f.read_rows(i, 1, rows.data());
  const std::int64_t last = f.rows() - 1;
  f.gather_rows(&last, 1, rows.data());
  if (f.has_logits()) {
    std::vector<float> logits(static_cast<std::size_t>(f.logits_dim()));
    f.read_logits(last, 1, logits.data());
  }
  if (f.has_labels()) sink = static_cast<double>(f.labels().back());
  for (const std::string& name : f.aux_score_names()) {
    double value = 0;
    f.read_aux(name, last, 1, &value);
    sink = value + static_cast<double>(f.aux_settings(name).size());
  }
  sink = static_cast<double>(f.sources().size());
  io::FeatureFile::SourceReader reader(f);
  for (std::int64_t i = 0; i < f.rows() && i < 4096; ++i) sink = reader.next().size();
}

// The delimiter detection, decoding and set selection of a CSV, and the invariant `metrics`
// relies on: a set selection only drops rows, and without one every query reads the same rows.
void scores(const std::uint8_t* data, std::size_t size) {
  io::ScoreFileQuery query;
  io::ScoreColumn all;
  bool all_read = true;
  try {
    all = io::parse_score_column(data, size, "fuzz.csv", query);
  } catch (const Error&) {
    all_read = false;
  }
  try {
    query.column = "logp";  // another column name: other delimiter and header branches
    sink = static_cast<double>(io::parse_scores(data, size, "fuzz.csv", query).size());
  } catch (const Error&) {
  }
  query.column = "score";
  query.set = "id";
  const io::ScoreColumn id = io::parse_score_column(data, size, "fuzz.csv", query);
  if (all_read && (id.set_selected ? id.scores.size() > all.scores.size()
                                   : id.scores.size() != all.scores.size())) {
    throw std::logic_error("the set selection read rows that a full read does not");
  }
  sink = static_cast<double>(id.scores.size());
}

void image_list(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  sink = static_cast<double>(io::parse_image_list(in, "fuzz.txt").paths.size());
}

const std::vector<Target>& targets() {
  static const std::vector<Target> list = {
      {"safetensors", safetensors},   {"npy", npy},       {"idx", idx},
      {"feature_file", feature_file}, {"scores", scores}, {"image_list", image_list}};
  return list;
}

}  // namespace oodflow::fuzz
