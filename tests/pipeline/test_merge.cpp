// merge streams every tensor from its inputs into the output a chunk of rows at a time. With
// chunks smaller than the inputs, every value must still land on its row, and the file must be
// byte for byte the one that writing the concatenated tensors from memory gives.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oodflow/io/feature_file.h"
#include "oodflow/io/safetensors.h"
#include "oodflow/pipeline/merge_command.h"
#include "test_util.h"

namespace oodflow::pipeline {
namespace {

constexpr std::int64_t kMergeDim = 3;
constexpr std::int64_t kMergeClasses = 2;
constexpr const char* kMergeOdin = R"({"temperature":1000.0,"epsilon":0.0014,"std":[0.5]})";
constexpr const char* kMergeEnergy = R"({"temperature":1.0})";

// Every tensor of a feature file, as the test writes it or reads it back.
struct MergeColumns {
  std::vector<float> features;  // [rows, kMergeDim]
  std::vector<float> logits;    // [rows, kMergeClasses]
  std::vector<std::int64_t> labels;
  std::vector<double> odin;
  std::vector<double> energy;
  std::vector<std::string> sources;  // empty when the file has none

  void append(const MergeColumns& o) {
    features.insert(features.end(), o.features.begin(), o.features.end());
    logits.insert(logits.end(), o.logits.begin(), o.logits.end());
    labels.insert(labels.end(), o.labels.begin(), o.labels.end());
    odin.insert(odin.end(), o.odin.begin(), o.odin.end());
    energy.insert(energy.end(), o.energy.begin(), o.energy.end());
    sources.insert(sources.end(), o.sources.begin(), o.sources.end());
  }
};

// Rows [first, first + rows) of a made-up extraction, every value distinct and none an
// integer that a wrong offset could hit by chance.
MergeColumns merge_columns(std::int64_t first, std::int64_t rows) {
  MergeColumns c;
  for (std::int64_t i = first; i < first + rows; ++i) {
    for (std::int64_t d = 0; d < kMergeDim; ++d) c.features.push_back(i + 0.125f * (d + 1));
    for (std::int64_t k = 0; k < kMergeClasses; ++k) c.logits.push_back(-i - 0.25f * (k + 1));
    c.labels.push_back(1000000007 * i - 3);
    c.odin.push_back(1.0 / (i + 3));
    c.energy.push_back(-1e10 * i - 0.5);
    c.sources.push_back("images/class " + std::to_string(i % 2) + "/img" + std::to_string(i) +
                        ".png");
  }
  return c;
}

void write_merge_input(const std::string& path, const MergeColumns& in) {
  io::FeatureFileContents c;
  c.rows = static_cast<std::int64_t>(in.labels.size());
  c.dim = kMergeDim;
  c.features = in.features.data();
  c.logits = in.logits.data();
  c.classes = kMergeClasses;
  c.labels = in.labels.data();
  c.aux.push_back({"odin", kMergeOdin, in.odin.data(), {}});
  c.aux.push_back({"energy", kMergeEnergy, in.energy.data(), {}});
  c.sources = in.sources;
  io::write_feature_file(path, c);
}

// Every tensor of `path`, read back through the readers.
MergeColumns read_merge_columns(const std::string& path) {
  const io::FeatureFile f = io::FeatureFile::open(path);
  MergeColumns c;
  c.features.resize(static_cast<std::size_t>(f.rows() * f.dim()));
  f.read_rows(0, f.rows(), c.features.data());
  c.logits.resize(static_cast<std::size_t>(f.rows() * f.logits_dim()));
  f.read_logits(0, f.rows(), c.logits.data());
  c.labels = f.labels();
  c.odin.resize(static_cast<std::size_t>(f.rows()));
  f.read_aux("odin", 0, f.rows(), c.odin.data());
  c.energy.resize(static_cast<std::size_t>(f.rows()));
  f.read_aux("energy", 0, f.rows(), c.energy.data());
  c.sources = f.sources();
  return c;
}

void expect_same_columns(const MergeColumns& actual, const MergeColumns& expected) {
  EXPECT_EQ(actual.features, expected.features);
  EXPECT_EQ(actual.logits, expected.logits);
  EXPECT_EQ(actual.labels, expected.labels);
  EXPECT_EQ(actual.odin, expected.odin);
  EXPECT_EQ(actual.energy, expected.energy);
  EXPECT_EQ(actual.sources, expected.sources);
}

// Inputs of 7, 1 and 5 rows in chunks of 3: chunks that end inside an input, at its end, and
// an input smaller than a chunk.
TEST(Merge, CopiesEveryTensorInChunksSmallerThanTheInputs) {
  test::TempDir dir;
  const std::vector<std::int64_t> sizes = {7, 1, 5};
  std::vector<std::string> inputs;
  MergeColumns written;
  MergeColumns read_back;
  nlohmann::json parts = nlohmann::json::array();
  std::int64_t first = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    inputs.push_back(dir.path("part" + std::to_string(i) + ".safetensors"));
    const MergeColumns part = merge_columns(first, sizes[i]);
    write_merge_input(inputs.back(), part);
    written.append(part);
    read_back.append(read_merge_columns(inputs.back()));
    parts.push_back({{"file", inputs.back()}, {"count", sizes[i]}});
    first += sizes[i];
  }
  const std::string merged = dir.path("merged.safetensors");
  EXPECT_EQ(run_merge({inputs, merged}, 3), first);

  const io::FeatureFile f = io::FeatureFile::open(merged);
  EXPECT_EQ(f.rows(), first);
  EXPECT_EQ(f.dim(), kMergeDim);
  EXPECT_EQ(f.logits_dim(), kMergeClasses);
  EXPECT_EQ(f.aux_score_names(), (std::vector<std::string>{"odin", "energy"}));
  EXPECT_EQ(f.aux_settings("odin"), kMergeOdin);
  EXPECT_EQ(f.aux_settings("energy"), kMergeEnergy);
  expect_same_columns(read_merge_columns(merged), read_back);
  expect_same_columns(read_back, written);

  // What merge wrote when it held every tensor in memory: the same bytes, in any chunk size.
  io::FeatureFileContents c;
  c.rows = first;
  c.dim = kMergeDim;
  c.features = written.features.data();
  c.logits = written.logits.data();
  c.classes = kMergeClasses;
  c.labels = written.labels.data();
  c.aux.push_back({"odin", kMergeOdin, written.odin.data(), {}});
  c.aux.push_back({"energy", kMergeEnergy, written.energy.data(), {}});
  c.sources = written.sources;
  c.metadata = {{"producer", "oodflow merge"}, {"merged_from", parts.dump()}};
  io::write_feature_file(dir.path("in_memory.safetensors"), c);
  EXPECT_EQ(test::read_bytes(merged), test::read_bytes(dir.path("in_memory.safetensors")));
  for (const std::int64_t chunk_rows : {1, 7, 4096}) {
    const std::string again = dir.path("chunks" + std::to_string(chunk_rows) + ".safetensors");
    run_merge({inputs, again}, chunk_rows);
    EXPECT_EQ(test::read_bytes(again), test::read_bytes(merged)) << chunk_rows << " rows a chunk";
  }
}

TEST(Merge, KeepsSourcePathsOnlyWhenEveryInputHasThem) {
  test::TempDir dir;
  const std::string with = dir.path("with.safetensors");
  write_merge_input(with, merge_columns(0, 4));
  MergeColumns part = merge_columns(4, 2);
  part.sources.clear();
  const std::string without = dir.path("without.safetensors");
  write_merge_input(without, part);
  run_merge({{with, without}, dir.path("merged.safetensors")}, 3);
  const io::FeatureFile f = io::FeatureFile::open(dir.path("merged.safetensors"));
  EXPECT_FALSE(f.has_sources());
  EXPECT_TRUE(f.sources().empty());
  EXPECT_EQ(f.labels(), merge_columns(0, 6).labels);
}

// An input that lists fewer source paths than its rows is an error naming it, found only when
// the paths are copied: no output is left, nor any temporary of it.
TEST(Merge, AnInputWithTooFewSourcePathsLeavesNoOutput) {
  test::TempDir dir;
  const std::string good = dir.path("good.safetensors");
  write_merge_input(good, merge_columns(0, 4));
  const MergeColumns part = merge_columns(4, 3);
  const std::string paths = "a.png\nb.png";
  const std::string short_path = dir.path("short.safetensors");
  io::write_safetensors(
      short_path,
      {{io::kFeaturesTensor, io::DType::F32, {3, kMergeDim}, part.features.data()},
       {io::kLabelsTensor, io::DType::I64, {3}, part.labels.data()},
       {io::kLogitsTensor, io::DType::F32, {3, kMergeClasses}, part.logits.data()},
       {"aux.odin", io::DType::F64, {3}, part.odin.data()},
       {"aux.energy", io::DType::F64, {3}, part.energy.data()},
       {io::kSourcesTensor,
        io::DType::U8,
        {static_cast<std::int64_t>(paths.size())},
        paths.data()}},
      {{io::kAuxScoresKey,
        nlohmann::ordered_json{{"odin", nlohmann::ordered_json::parse(kMergeOdin)},
                               {"energy", nlohmann::ordered_json::parse(kMergeEnergy)}}
            .dump()}});
  test::expect_error(
      [&] {
        run_merge({{good, short_path}, dir.path("merged.safetensors")}, 3);
      },
      {"short.safetensors", "fewer source paths", "3 samples"});
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"good.safetensors", "short.safetensors"}));
}

}  // namespace
}  // namespace oodflow::pipeline
