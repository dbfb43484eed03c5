// A file whose name promises one format and whose bytes are another: an error naming the file
// and what it starts with, never a silent fall-back to another reader.
#include <gtest/gtest.h>

#include "oodflow/core/error.h"
#include "oodflow/io/feature_file.h"
#include "oodflow/io/file_kind.h"
#include "oodflow/io/idx.h"
#include "oodflow/io/labels.h"
#include "oodflow/io/npy.h"
#include "oodflow/io/safetensors.h"
#include "oodflow/io/score_file.h"
#include "test_util.h"

namespace oodflow::io {
namespace {

FileKind sniff(const std::string& bytes) {
  return sniff_file_kind(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

std::string describe(const std::string& bytes) {
  return describe_file_start(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

TEST(FileKind, TheFirstBytesTellTheKind) {
  EXPECT_EQ(sniff(""), FileKind::kEmpty);
  EXPECT_EQ(sniff("\x1f\x8b\x08"), FileKind::kGzip);
  EXPECT_EQ(sniff(std::string("\x93NUMPY\x01\x00", 8)), FileKind::kNpy);
  EXPECT_EQ(sniff(std::string("PK\x03\x04rest", 8)), FileKind::kZip);
  EXPECT_EQ(sniff(std::string("\x00\x00\x08\x03\x00\x00\x00\x05", 8)), FileKind::kIdx);
  EXPECT_EQ(sniff(std::string("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}", 15)),
            FileKind::kSafetensors);
  EXPECT_EQ(sniff("\x89PNG\r\n\x1a\n"), FileKind::kImage);
  EXPECT_EQ(sniff("  <!DOCTYPE html>\n<html>"), FileKind::kHtml);
  EXPECT_EQ(sniff("\xef\xbb\xbf<HTML><body>404</body>"), FileKind::kHtml);
  EXPECT_EQ(sniff("set,score\r\nid,1\r\n"), FileKind::kText);
  EXPECT_EQ(sniff("caf\xe9,1\n"), FileKind::kText);                        // Latin-1 text
  EXPECT_EQ(sniff(std::string("\xff\xfes\0e\0t\0", 8)), FileKind::kText);  // UTF-16 LE
  EXPECT_EQ(sniff(std::string("ab\0\x01\x02", 5)), FileKind::kUnknown);
}

TEST(FileKind, DescriptionsShowTheStart) {
  EXPECT_EQ(describe("<!DOCTYPE html>"),
            "starts with '<!DOCTYP' (an HTML page? a failed "
            "download leaves one)");
  EXPECT_EQ(describe(""), "is empty");
  EXPECT_EQ(describe("hello\n"), "starts with 'hello' (text)");
  EXPECT_EQ(describe(std::string("PK\x03\x04\x14\x00", 6)),
            "starts with bytes 50 4b 03 04 (a zip archive: a .npz or a TorchScript .pt?)");
}

TEST(FileKind, AnHtmlPageNamedAsGzipIsNamedAsSuchByTheIdxAndLabelReaders) {
  test::TempDir dir;
  const std::string images = dir.path("train-images-idx3-ubyte.gz");
  test::write_bytes(images, "<!DOCTYPE html>\n<html><body>Not Found</body></html>\n");
  test::expect_error([&] { read_file_maybe_gzip(images); },
                     {"train-images-idx3-ubyte.gz", "HTML page, not gzip data", "<!DOCTYP"});
  test::expect_error([&] { read_labels(images, 1, "images"); },
                     {"train-images-idx3-ubyte.gz", "HTML page"});
  // gzip bytes inside are fine; a gzip name over other binary data is not.
  test::write_bytes(dir.path("labels.gz"), std::string("\x00\x00\x08\x01\x00\x00\x00\x01\x07", 9));
  test::expect_error([&] { read_file_maybe_gzip(dir.path("labels.gz")); },
                     {"labels.gz", "named like gzip data but is not", "an IDX file?"});
}

TEST(FileKind, FeatureFilesWhoseNameAndBytesDisagree) {
  test::TempDir dir;
  test::write_bytes(dir.path("feats.npy"), "set,score\nid,1\n");
  test::expect_error([&] { FeatureFile::open(dir.path("feats.npy")); },
                     {"feats.npy", "named like a .npy array but is not", "'set,scor'"});
  // A safetensors file under a .npy name is a mistake too, not a silent read.
  test::write_features(dir.path("real.safetensors"), {1, 2, 3, 4}, 2, 2);
  test::write_bytes(dir.path("renamed.npy"), test::read_bytes(dir.path("real.safetensors")));
  test::expect_error([&] { FeatureFile::open(dir.path("renamed.npy")); },
                     {"renamed.npy", "a safetensors file?"});
  // Names that promise nothing are read by their bytes, as before.
  test::write_bytes(dir.path("feats.bin"), test::read_bytes(dir.path("real.safetensors")));
  EXPECT_EQ(FeatureFile::open(dir.path("feats.bin")).rows(), 2);
}

TEST(FileKind, ScoreAndModelFilesWhoseNameAndBytesDisagree) {
  test::TempDir dir;
  // Scores saved by np.save under a .csv name were read as .npy before: a silent guess.
  test::write_bytes(dir.path("scores.npy"), "score\n1\n2\n");
  test::expect_error([&] { read_scores(dir.path("scores.npy"), {}); },
                     {"scores.npy", "named like a .npy array but is not", "'score'"});
  test::write_bytes(dir.path("flow.safetensors"), "<html><body>502 Bad Gateway</body></html>");
  test::expect_error([&] { SafetensorsFile(dir.path("flow.safetensors")); },
                     {"flow.safetensors", "HTML page, not a safetensors file"});
  test::write_bytes(dir.path("model.pt.feat"), std::string("PK\x03\x04\x14\x00\x00\x00", 8));
  test::expect_error([&] { FeatureFile::open(dir.path("model.pt.feat")); },
                     {"model.pt.feat", "zip archive", "np.save"});
  test::write_bytes(dir.path("notes.feat"), "just some text\n");
  test::expect_error([&] { FeatureFile::open(dir.path("notes.feat")); },
                     {"notes.feat", "is not a feature file", "'just som'"});
}

TEST(FileKind, ArchivesAreNamedWithTheirRemedy) {
  test::TempDir dir;
  const std::string zip("PK\x03\x04\x14\x00\x00\x00\x08\x00", 10);  // what np.savez writes
  test::write_bytes(dir.path("a.npz"), zip);
  // Before: read as text, "holds a NUL character ... UTF-16?".
  test::expect_error([&] { read_scores(dir.path("a.npz"), {}); },
                     {"a.npz", "zip archive", "save it with np.save"});
  test::expect_error([&] { FeatureFile::open(dir.path("a.npz")); }, {"a.npz", "np.save"});
  test::write_bytes(dir.path("x.npy.gz"), std::string("\x1f\x8b\x08\x00\x00\x00", 6));
  test::expect_error([&] { read_scores(dir.path("x.npy.gz"), {}); },
                     {"x.npy.gz", "gzip-compressed; decompress it"});
}

TEST(FileKind, ASafetensorsHeaderThatDoesNotStartWithABraceIsSaidSo) {
  test::TempDir dir;
  const std::string header = " {\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  test::write_bytes(dir.path("lead.safetensors"), bytes + header + std::string(4, '\0'));
  // Before: "named like a safetensors file but is not: it starts with bytes 4b 00 00 00".
  test::expect_error([&] { SafetensorsFile(dir.path("lead.safetensors")); },
                     {"lead.safetensors", "'{'"});
}

TEST(FileKind, IntegerAndBoolNpyFeaturesAreReadAsFloats) {
  test::TempDir dir;
  const std::vector<std::int32_t> ints = {-3, 7, 100000, 0, 42, -1};
  test::write_bytes(dir.path("i.npy"), serialize_npy(DType::I32, {3, 2}, ints.data()));
  const FeatureFile f = FeatureFile::open(dir.path("i.npy"));
  std::vector<float> rows(6);
  f.read_rows(0, 3, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{-3, 7, 100000, 0, 42, -1}));
  // bool, as numpy writes it ('|b1'), goes through the converted copy.
  std::string header = "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  test::write_bytes(dir.path("b.npy"), std::string("\x93NUMPY\x01\x00", 8) +
                                           static_cast<char>(header.size()) + '\0' + header +
                                           std::string("\x01\x00\x00\x01", 4));
  const FeatureFile b = FeatureFile::open(dir.path("b.npy"));
  std::vector<float> flags(4);
  b.read_rows(0, 2, flags.data());
  EXPECT_EQ(flags, (std::vector<float>{1, 0, 0, 1}));
}

}  // namespace
}  // namespace oodflow::io
