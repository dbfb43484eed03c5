#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/npy.h"
#include "test_util.h"

namespace oodflow::io {
namespace {

TEST(FeatureFile, SafetensorsRoundTripWithLabelsLogitsAndSources) {
  test::TempDir dir;
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::vector<std::int64_t> y = {0, 3};
  const std::vector<float> logits = {0.1f, 0.9f, 0.7f, 0.3f};
  FeatureFileContents c;
  c.rows = 2;
  c.dim = 3;
  c.features = x.data();
  c.labels = y.data();
  c.logits = logits.data();
  c.classes = 2;
  c.sources = {"a/b.png", "c,d.png"};
  c.metadata = {{"backbone", "resnet.pt"}};
  write_feature_file(dir.path("f.safetensors"), c);

  const FeatureFile f = FeatureFile::open(dir.path("f.safetensors"));
  EXPECT_EQ(f.rows(), 2);
  EXPECT_EQ(f.dim(), 3);
  EXPECT_EQ(f.labels(), y);
  EXPECT_TRUE(f.has_logits());
  EXPECT_EQ(f.sources(), c.sources);
  EXPECT_EQ(f.metadata().at("backbone"), "resnet.pt");
  EXPECT_EQ(f.metadata().at("format"), kFeatureFormat);
  EXPECT_EQ(f.metadata().at("count"), "2");
  std::vector<float> rows(6);
  f.read_rows(0, 2, rows.data());
  EXPECT_EQ(rows, x);
  const std::int64_t index[] = {1, 0};
  f.gather_rows(index, 2, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{4, 5, 6, 1, 2, 3}));
  EXPECT_EQ(f.sha256().size(), 64u);
}

TEST(FeatureFile, ReadsNpyMatrices) {
  test::TempDir dir;
  const std::vector<double> x = {1, 2, 3, 4};
  test::write_bytes(dir.path("f.npy"), serialize_npy(DType::F64, {2, 2}, x.data()));
  const FeatureFile f = FeatureFile::open(dir.path("f.npy"));
  EXPECT_EQ(f.rows(), 2);
  EXPECT_FALSE(f.has_labels());
  EXPECT_TRUE(f.sources().empty());
  std::vector<float> rows(4);
  f.read_rows(1, 1, rows.data());
  EXPECT_EQ(rows[0], 3.0f);
  EXPECT_EQ(rows[1], 4.0f);
}

// numpy.save of np.asfortranarray(x.astype('>f4')) for x = [[1, 2, 3], [4, 5, 6]]: the
// features are converted once and owned by the FeatureFile (and its copies).
TEST(FeatureFile, ReadsBigEndianFortranOrderNpyMatrices) {
  test::TempDir dir;
  std::string header = "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes =
      std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
  for (float v : {1.0f, 4.0f, 2.0f, 5.0f, 3.0f, 6.0f}) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int k = 3; k >= 0; --k) bytes.push_back(static_cast<char>(bits >> (8 * k)));
  }
  test::write_bytes(dir.path("f.npy"), bytes);
  std::optional<FeatureFile> copy;
  {
    const FeatureFile f = FeatureFile::open(dir.path("f.npy"));
    EXPECT_EQ(f.rows(), 2);
    EXPECT_EQ(f.dim(), 3);
    copy = f;
  }
  std::vector<float> rows(6);
  copy->read_rows(0, 2, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

void expect_open_error(const std::string& path, const std::string& needle) {
  test::expect_error([&] { FeatureFile::open(path); }, {path, needle});
}

TEST(FeatureFile, ClearErrorsForUnusableFiles) {
  test::TempDir dir;
  expect_open_error(dir.path("missing.npy"), "No such file");
  test::write_bytes(dir.path("empty.npy"), "");
  expect_open_error(dir.path("empty.npy"), "is empty");
  const std::vector<float> v(4, 1.0f);
  test::write_bytes(dir.path("vector.npy"), serialize_npy(DType::F32, {4}, v.data()));
  expect_open_error(dir.path("vector.npy"), "2-D");
  test::write_bytes(dir.path("norows.npy"), serialize_npy(DType::F32, {0, 4}, v.data()));
  expect_open_error(dir.path("norows.npy"), "no samples");
  const std::vector<std::int64_t> ints(4, 1);
  test::write_bytes(dir.path("ints.npy"), serialize_npy(DType::I64, {2, 2}, ints.data()));
  EXPECT_EQ(FeatureFile::open(dir.path("ints.npy")).dim(), 2);  // integers are read as floats
  write_safetensors(dir.path("nofeat.safetensors"), {{"other", DType::F32, {2, 2}, v.data()}}, {});
  expect_open_error(dir.path("nofeat.safetensors"), "no 'features' tensor");
  write_safetensors(
      dir.path("badlabels.safetensors"),
      {{"features", DType::F32, {2, 2}, v.data()}, {"labels", DType::I64, {3}, ints.data()}}, {});
  expect_open_error(dir.path("badlabels.safetensors"), "labels");
}

// Two auxiliary scores, one from memory and one streamed, come back in the order written with
// their settings records and the exact doubles.
TEST(FeatureFile, AuxiliaryScoresRoundTripInTheirOrderWithTheirSettings) {
  test::TempDir dir;
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::vector<double> odin = {0.1, 1.0 / 3, 0.9999999999999999};
  const std::vector<double> gradnorm = {1e-300, -2.5, 6.02214076e23};
  FeatureFileContents c;
  c.rows = 3;
  c.dim = 2;
  c.features = x.data();
  c.aux.push_back(
      {"odin", R"({"temperature":1000.0,"epsilon":0.0014,"std":[0.5]})", odin.data(), {}});
  c.aux.push_back({"gradnorm", R"({"p":2,"description":"L2 norm of the gradient"})", nullptr,
                   [&](const std::function<void(const void*, std::size_t)>& sink) {
                     sink(gradnorm.data(), 8);
                     sink(gradnorm.data() + 1, 16);
                   }});
  write_feature_file(dir.path("f.safetensors"), c);

  const FeatureFile f = FeatureFile::open(dir.path("f.safetensors"));
  EXPECT_EQ(f.metadata().at("format_version"), "2");
  EXPECT_EQ(f.aux_score_names(), (std::vector<std::string>{"odin", "gradnorm"}));
  EXPECT_TRUE(f.has_aux("gradnorm"));
  EXPECT_FALSE(f.has_aux("energy"));
  EXPECT_EQ(f.aux_settings("odin"), c.aux[0].settings);
  EXPECT_EQ(f.aux_settings("gradnorm"), c.aux[1].settings);
  std::vector<double> got(3);
  f.read_aux("odin", 0, 3, got.data());
  EXPECT_EQ(got, odin);
  f.read_aux("gradnorm", 0, 3, got.data());
  EXPECT_EQ(got, gradnorm);
  f.read_aux("gradnorm", 2, 1, got.data());
  EXPECT_EQ(got[0], 6.02214076e23);
  test::expect_error([&] { f.read_aux("energy", 0, 1, got.data()); },
                     {"f.safetensors", "no auxiliary score 'energy'", "odin, gradnorm"});

  // On disk: tensors aux.NAME of F64 [N] and one aux_scores record.
  const SafetensorsFile raw(dir.path("f.safetensors"));
  EXPECT_EQ(raw.require("aux.odin").dtype, DType::F64);
  EXPECT_EQ(raw.require("aux.gradnorm").shape, std::vector<std::int64_t>{3});
  EXPECT_EQ(nlohmann::json::parse(raw.view().metadata.at(kAuxScoresKey)),
            nlohmann::json::parse(R"({"odin":{"temperature":1000.0,"epsilon":0.0014,"std":[0.5]},
                                      "gradnorm":{"p":2,"description":"L2 norm of the gradient"}})"));
}

TEST(FeatureFile, AuxSettingsKeyIgnoresWordingAndKeyOrder) {
  EXPECT_EQ(aux_settings_key(R"({"b":1,"description":"x","a":[0.5]})"), R"({"a":[0.5],"b":1})");
  EXPECT_EQ(aux_settings_key(R"({"a":[0.5],"b":1,"description":"other"})"),
            aux_settings_key(R"({"b":1,"a":[0.5]})"));
  EXPECT_NE(aux_settings_key(R"({"a":[0.5],"b":2})"), aux_settings_key(R"({"a":[0.5],"b":1})"));
  EXPECT_EQ(aux_settings_key(""), "");
}

// The committed version-1 file of `extract --odin`: its ODIN scores are the auxiliary score
// "odin", and its free-text "perturbation" is the description.
TEST(FeatureFile, VersionOneOdinScoresReadAsTheAuxiliaryScoreOdin) {
  const std::string path = std::string(OODFLOW_FUZZ_CORPUS_DIR) + "/feature_file/odin.safetensors";
  const FeatureFile f = FeatureFile::open(path);
  ASSERT_EQ(f.metadata().at("format_version"), "1");
  EXPECT_EQ(f.aux_score_names(), std::vector<std::string>{"odin"});
  const auto settings = nlohmann::json::parse(f.aux_settings("odin"));
  EXPECT_EQ(settings["temperature"], 1000.0);
  EXPECT_EQ(settings["epsilon"], 0.0014);
  EXPECT_EQ(settings["std"], nlohmann::json({0.25}));
  EXPECT_FALSE(settings.contains("perturbation"));
  EXPECT_EQ(aux_settings_key(f.aux_settings("odin")),
            R"({"epsilon":0.0014,"std":[0.25],"temperature":1000.0})");
  const SafetensorsFile raw(path);
  const TensorView& t = raw.require("odin");
  ASSERT_EQ(t.dtype, DType::F64);
  std::vector<double> expected(8);
  std::memcpy(expected.data(), t.data, 64);
  std::vector<double> got(8);
  f.read_aux("odin", 0, 8, got.data());
  EXPECT_EQ(got, expected);

  // Written here: F32 scores are read as doubles, and a record needs its tensor.
  test::TempDir dir;
  const std::vector<float> x = {1, 2, 3, 4};
  const std::vector<float> odin = {0.5f, 0.25f};
  std::map<std::string, std::string> meta = {
      {"format", kFeatureFormat}, {"format_version", "1"}, {"odin", R"({"temperature":5.0})"}};
  write_safetensors(
      dir.path("v1.safetensors"),
      {{"features", DType::F32, {2, 2}, x.data()}, {"odin", DType::F32, {2}, odin.data()}}, meta);
  const FeatureFile v1 = FeatureFile::open(dir.path("v1.safetensors"));
  v1.read_aux("odin", 0, 2, got.data());
  EXPECT_EQ(got[0], 0.5);
  EXPECT_EQ(got[1], 0.25);
  EXPECT_EQ(v1.aux_settings("odin"), R"({"temperature":5.0})");
  write_safetensors(dir.path("v1_record.safetensors"), {{"features", DType::F32, {2, 2}, x.data()}},
                    meta);
  expect_open_error(dir.path("v1_record.safetensors"), "no tensor 'odin'");
  meta.erase("odin");
  write_safetensors(
      dir.path("v1_tensor.safetensors"),
      {{"features", DType::F32, {2, 2}, x.data()}, {"odin", DType::F32, {2}, odin.data()}}, meta);
  expect_open_error(dir.path("v1_tensor.safetensors"), "no settings record 'odin'");
  // Version 2 ignores a tensor called odin: its scores are aux.NAME.
  meta["format_version"] = "2";
  write_safetensors(
      dir.path("v2.safetensors"),
      {{"features", DType::F32, {2, 2}, x.data()}, {"odin", DType::F32, {2}, odin.data()}}, meta);
  EXPECT_TRUE(FeatureFile::open(dir.path("v2.safetensors")).aux_score_names().empty());
}

TEST(FeatureFile, InconsistentAuxiliaryScoresAndNewerVersionsAreRefused) {
  test::TempDir dir;
  const std::vector<float> x = {1, 2, 3, 4};
  const std::vector<double> v = {0.5, 0.25, 0.125};
  const TensorSpec features{"features", DType::F32, {2, 2}, x.data()};
  const auto write = [&](const std::string& name, std::vector<TensorSpec> tensors,
                         const std::map<std::string, std::string>& extra) {
    std::map<std::string, std::string> meta = {{"format", kFeatureFormat}, {"format_version", "2"}};
    for (const auto& [key, value] : extra) meta[key] = value;
    tensors.push_back(features);
    write_safetensors(dir.path(name), tensors, meta);
    return dir.path(name);
  };
  expect_open_error(write("record.safetensors", {}, {{kAuxScoresKey, R"({"gradnorm":{}})"}}),
                    "no tensor 'aux.gradnorm'");
  expect_open_error(
      write("unrecorded.safetensors", {{"aux.gradnorm", DType::F64, {2}, v.data()}}, {}),
      "tensor 'aux.gradnorm' but no settings record");
  expect_open_error(write("shape.safetensors", {{"aux.gradnorm", DType::F64, {3}, v.data()}},
                          {{kAuxScoresKey, R"({"gradnorm":{}})"}}),
                    "auxiliary score 'gradnorm' must be a float [2] vector");
  expect_open_error(write("settings.safetensors", {{"aux.gradnorm", DType::F64, {2}, v.data()}},
                          {{kAuxScoresKey, R"({"gradnorm":2})"}}),
                    "'gradnorm' is not a JSON object");
  expect_open_error(write("records.safetensors", {}, {{kAuxScoresKey, "[1]"}}),
                    "malformed 'aux_scores' metadata");
  // Valid: read.
  const FeatureFile ok =
      FeatureFile::open(write("ok.safetensors", {{"aux.gradnorm", DType::F64, {2}, v.data()}},
                              {{kAuxScoresKey, R"({"gradnorm":{"p":1}})"}}));
  EXPECT_EQ(ok.aux_score_names(), std::vector<std::string>{"gradnorm"});
  expect_open_error(write("v3.safetensors", {}, {{"format_version", "3"}}),
                    "format version 3; this oodflow reads versions 1 to 2");
  expect_open_error(write("bad_version.safetensors", {}, {{"format_version", "2x"}}),
                    "malformed format_version '2x'");
}

// Labels and source paths handed over in pieces give the file that holding them gives; the
// paths are joined in pieces of kStreamChunkRows, so more rows than that cross a piece.
TEST(FeatureFile, StreamedLabelsAndSourcesAreStoredAsFromMemory) {
  test::TempDir dir;
  const std::int64_t rows = 2 * kStreamChunkRows + 3;
  const std::vector<float> x(static_cast<std::size_t>(rows), 0.5f);
  std::vector<std::int64_t> labels;
  std::vector<std::string> sources;
  std::string joined;
  for (std::int64_t i = 0; i < rows; ++i) {
    labels.push_back(i * 7 - 5);
    // An empty path and commas too: only '\n' separates.
    sources.push_back(i == 1 ? std::string()
                             : "dir " + std::to_string(i % 3) + "/img," + std::to_string(i));
    joined += (i > 0 ? "\n" : "") + sources.back();
  }
  FeatureFileContents held;
  held.rows = rows;
  held.dim = 1;
  held.features = x.data();
  held.labels = labels.data();
  held.sources = sources;
  write_feature_file(dir.path("held.safetensors"), held);

  FeatureFileContents streamed = held;
  streamed.labels = nullptr;
  streamed.sources.clear();
  streamed.labels_stream = [&](const std::function<void(const void*, std::size_t)>& sink) {
    sink(labels.data(), 8 * 5);
    sink(labels.data() + 5, 8 * (labels.size() - 5));
  };
  int passes = 0;
  streamed.sources_stream = [&](const std::function<void(const std::string&)>& each) {
    ++passes;
    for (const std::string& s : sources) each(s);
  };
  write_feature_file(dir.path("streamed.safetensors"), streamed);
  EXPECT_EQ(passes, 2);  // one to size the tensor, one to write it
  EXPECT_EQ(test::read_bytes(dir.path("streamed.safetensors")),
            test::read_bytes(dir.path("held.safetensors")));

  const SafetensorsFile raw(dir.path("streamed.safetensors"));
  const TensorView& t = raw.require(kSourcesTensor);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.data), t.nbytes), joined);
  const FeatureFile f = FeatureFile::open(dir.path("streamed.safetensors"));
  EXPECT_EQ(f.labels(), labels);
  EXPECT_EQ(f.sources(), sources);
  std::vector<std::int64_t> some(3);
  f.read_labels(kStreamChunkRows - 1, 3, some.data());
  EXPECT_EQ(some, std::vector<std::int64_t>(labels.begin() + kStreamChunkRows - 1,
                                            labels.begin() + kStreamChunkRows + 2));

  // A path with a newline would read back as two: refused before anything is written.
  sources[kStreamChunkRows] = "a\nb.png";
  test::expect_error([&] { write_feature_file(dir.path("newline.safetensors"), streamed); },
                     {"with a newline", "'a\\nb.png'"});
  EXPECT_FALSE(test::file_exists(dir.path("newline.safetensors")));
}

}  // namespace
}  // namespace oodflow::io
