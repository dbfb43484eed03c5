// What --data is, from its bytes and its name: a failed download is named as such, one image
// is not taken for a list, and list files in oodflow's and OpenOOD's forms.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "oodflow/extract/image_source.h"
#include "oodflow/io/image_list.h"
#include "test_util.h"

namespace oodflow::extract {
namespace {

TEST(SourceFormats, AnHtmlPageNamedLikeMnistIsAnErrorNotAListOfImages) {
  test::TempDir dir;
  const std::string path = dir.path("train-images-idx3-ubyte.gz");
  test::write_bytes(path, "<!DOCTYPE html>\n");
  // Before: read as a list file, "cannot open '<!DOCTYPE html>'".
  test::expect_error(
      [&] { open_image_source(path, SourceFormat::kAuto); },
      {"train-images-idx3-ubyte.gz", "is an HTML page, not gzip data", "starts with '<!DOCTYP'"});
  // The same page without the extension: still not a list.
  test::write_bytes(dir.path("download"), "<html><head><title>404</title></head></html>");
  test::expect_error([&] { open_image_source(dir.path("download"), SourceFormat::kAuto); },
                     {"download", "HTML page"});
  // gzip data that does not hold IDX says what it holds.
  test::write_bytes(dir.path("x.npy"), "not numpy");
  test::expect_error([&] { open_image_source(dir.path("x.npy"), SourceFormat::kAuto); },
                     {"x.npy", "named like a .npy array but is not", "'not nump'"});
  test::write_bytes(dir.path("bin"), std::string("\x01\x02\x00\x07", 4));
  test::expect_error([&] { open_image_source(dir.path("bin"), SourceFormat::kAuto); },
                     {"'", "binary data", "starts with bytes 01 02 00 07"});
}

TEST(SourceFormats, OneImageIsNotAListFile) {
  test::TempDir dir;
  const std::string png = test::read_bytes(test::data_path("extract/images/cat/b_rgb.png"));
  test::write_bytes(dir.path("photo"), png);  // no extension: the bytes tell
  test::expect_error([&] { open_image_source(dir.path("photo"), SourceFormat::kAuto); },
                     {"photo", "is one image; --data takes a folder"});
}

io::ImageList parse(const std::string& text) {
  std::istringstream in(text);
  return io::parse_image_list(in, "l.txt");
}

TEST(SourceFormats, ListLinesInOodflowAndOpenOodForms) {
  // OpenOOD: "relative/path label", one blank.
  io::ImageList openood = parse("imagenet_1k/val/a.JPEG 0\nimagenet_1k/val/b.JPEG 17\n");
  EXPECT_EQ(openood.paths,
            (std::vector<std::string>{"imagenet_1k/val/a.JPEG", "imagenet_1k/val/b.JPEG"}));
  EXPECT_EQ(openood.labels, (std::vector<std::int64_t>{0, 17}));
  // Comma forms, with blanks after the comma and a UTF-8 BOM and CRLF from a spreadsheet.
  io::ImageList csv = parse(
      "\xef\xbb\xbf"
      "a.png, 3\r\nb,c.png,4\r\n");
  EXPECT_EQ(csv.paths, (std::vector<std::string>{"a.png", "b,c.png"}));
  EXPECT_EQ(csv.labels, (std::vector<std::int64_t>{3, 4}));
  // Names with blanks and no label stay whole.
  io::ImageList plain = parse("my photo.png\nother one.jpg\n");
  EXPECT_EQ(plain.paths, (std::vector<std::string>{"my photo.png", "other one.jpg"}));
  EXPECT_TRUE(plain.labels.empty());
  test::expect_error([&] { parse("a.png 1\nb.png\n"); }, {"l.txt", "line 2", "no label"});
}

TEST(SourceFormats, ARootFolderResolvesTheRelativePathsOfAList) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path("data/images_classic/cat"));
  std::filesystem::create_directories(dir.path("lists"));
  const std::string png = test::data_path("extract/images/cat/b_rgb.png");
  std::filesystem::copy_file(png, dir.path("data/images_classic/cat/x.png"));
  test::write_bytes(dir.path("lists/test.txt"), "images_classic/cat/x.png 2\n");
  const auto source =
      open_image_source(dir.path("lists/test.txt"), SourceFormat::kAuto, "", dir.path("data"));
  ASSERT_EQ(source->size(), 1);
  EXPECT_EQ(source->name(0), dir.path("data/images_classic/cat/x.png"));
  EXPECT_EQ(source->label(0), 2);
  EXPECT_EQ(source->load(0).cols, 22);
  EXPECT_NE(source->describe().find("\"root\""), std::string::npos);
  // Without --root the paths are relative to the list's folder, where they do not exist.
  const auto plain = open_image_source(dir.path("lists/test.txt"), SourceFormat::kAuto);
  EXPECT_EQ(plain->name(0), dir.path("lists/images_classic/cat/x.png"));
  test::expect_error(
      [&] { open_image_source(dir.path("data"), SourceFormat::kAuto, "", dir.path("data")); },
      {"--root applies to list files"});
}

}  // namespace
}  // namespace oodflow::extract
