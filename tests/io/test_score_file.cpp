#include <gtest/gtest.h>

#include <cmath>

#include "oodflow/core/error.h"
#include "oodflow/io/csv.h"
#include "oodflow/io/npy.h"
#include "oodflow/io/score_file.h"
#include "test_util.h"

namespace oodflow::io {
namespace {

TEST(ScoreFile, ReadsCsvColumnsSetsAndNonFinite) {
  test::TempDir dir;
  test::write_bytes(dir.path("s.csv"),
                    "set,index,source,score\n"
                    "id,0,\"a,b.png\",1.5\n"
                    "id,1,,nan\n"
                    "ood,0,,-inf\n"
                    "ood,1,,2e3\n");
  const auto id = read_scores(dir.path("s.csv"), {"score", "id"});
  ASSERT_EQ(id.size(), 2u);
  EXPECT_EQ(id[0], 1.5);
  EXPECT_TRUE(std::isnan(id[1]));
  const auto ood = read_scores(dir.path("s.csv"), {"score", "ood"});
  EXPECT_EQ(ood, (std::vector<double>{-INFINITY, 2000}));
  EXPECT_THROW(read_scores(dir.path("s.csv"), {"score", "other"}), Error);
  EXPECT_THROW(read_scores(dir.path("s.csv"), {"logp", ""}), Error);
}

TEST(ScoreFile, ReadsHeaderlessColumnAndNpy) {
  test::TempDir dir;
  test::write_bytes(dir.path("plain.txt"), "1\n2.5\n\n-3\n");
  EXPECT_EQ(read_scores(dir.path("plain.txt"), {}), (std::vector<double>{1, 2.5, -3}));
  const std::vector<float> v = {0.5f, 1.5f};
  test::write_bytes(dir.path("s.npy"), serialize_npy(DType::F32, {2, 1}, v.data()));
  EXPECT_EQ(read_scores(dir.path("s.npy"), {}), (std::vector<double>{0.5, 1.5}));
}

TEST(ScoreFile, NamesFileAndLineOnBadInput) {
  test::TempDir dir;
  test::write_bytes(dir.path("bad.csv"), "score\n1\nabc\n");
  try {
    read_scores(dir.path("bad.csv"), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv' line 3"), std::string::npos) << e.what();
  }
  test::write_bytes(dir.path("empty.csv"), "score\n");
  EXPECT_THROW(read_scores(dir.path("empty.csv"), {}), Error);
  EXPECT_THROW(read_scores(dir.path("missing.csv"), {}), Error);
}

// The expected values below are what Python's csv.reader (excel dialect; delimiter ';' or tab
// where the header line uses it) and float() make of each file, written out by hand.
std::vector<double> scores_of(const std::string& bytes, const std::string& set,
                              const std::string& column = "score",
                              const std::string& name = "s.csv") {
  test::TempDir dir;
  test::write_bytes(dir.path(name), bytes);
  return read_scores(dir.path(name), {column, set});
}

// UTF-16 code units of `text` (ASCII, plus the escapes below) after a byte-order mark.
std::string utf16(const std::u16string& text, bool big_endian) {
  std::string out = big_endian ? "\xfe\xff" : "\xff\xfe";
  for (char16_t unit : text) {
    const char hi = static_cast<char>(unit >> 8);
    const char lo = static_cast<char>(unit & 0xff);
    out += big_endian ? std::string{hi, lo} : std::string{lo, hi};
  }
  return out;
}

TEST(ScoreFile, ByteOrderMarksAndUtf16AsExcelSavesThem) {
  // "CSV UTF-8": the byte-order mark is not part of the first header name.
  const std::string bom = "\xef\xbb\xbfset,score\r\nid,1\r\nid,2\r\nood,0\r\n";
  EXPECT_EQ(scores_of(bom, "id"), (std::vector<double>{1, 2}));
  EXPECT_EQ(scores_of(bom, "ood"), (std::vector<double>{0}));
  // "Unicode text": UTF-16 little-endian, tab-separated; a set name with an accent (U+00E9)
  // and a source with a character outside the BMP (a surrogate pair) are decoded.
  const std::string le =
      utf16(u"set\tsource\tscore\r\npr\u00e9\t\U0001F600.png\t0.25\r\nood\tb.png\t-1\r\n", false);
  EXPECT_EQ(scores_of(le, "pr\xc3\xa9"), (std::vector<double>{0.25}));
  EXPECT_EQ(scores_of(le, "ood"), (std::vector<double>{-1}));
  const std::string be = utf16(u"set\tscore\nid\t3,5\n", true);
  EXPECT_EQ(scores_of(be, "id"), (std::vector<double>{3.5}));
  // What cannot be decoded is named.
  test::expect_error([&] { scores_of(std::string("\xff\xfe\0\0s\0\0\0", 8), ""); },
                     {"s.csv", "UTF-32"});
  // "score\n1" in UTF-16 LE without a byte-order mark: 14 bytes.
  const char no_bom[] =
      "s\0c\0o\0r\0e\0\n\0"
      "1\0";
  test::expect_error([&] { scores_of(std::string(no_bom, sizeof no_bom - 1), ""); },
                     {"s.csv", "NUL", "byte-order mark"});
  test::expect_error([&] { scores_of(le.substr(0, le.size() - 1), ""); }, {"s.csv", "odd"});
  test::expect_error([&] { scores_of(utf16(u"score\n\xd800\n", false), ""); },
                     {"s.csv", "surrogate"});
}

TEST(ScoreFile, LineEndsQuotesAndHeaderNamesAsPythonCsvReadsThem) {
  // Lone CR (old Mac Excel), CRLF and LF; empty trailing lines.
  EXPECT_EQ(scores_of("set,score\rid,1\rood,2\rid,3\r", "id"), (std::vector<double>{1, 3}));
  EXPECT_EQ(scores_of("score\r\n1\n2\r\n\r\n\n", ""), (std::vector<double>{1, 2}));
  // A quoted field holds the delimiter, a line break and doubled quotes; the line numbers
  // of later errors still count physical lines.
  const std::string quoted =
      "set,source,score\n"
      "id,\"a,\n\"\"b\"\".png\",1.5\n"
      "ood,\"x\",2\n"
      "id,y,oops\n";
  test::expect_error([&] { scores_of(quoted, "id"); }, {"s.csv' line 5", "'oops'"});
  EXPECT_EQ(scores_of(quoted, "ood"), (std::vector<double>{2}));
  // The score column anywhere; names with surrounding spaces; a blank spreadsheet row.
  EXPECT_EQ(scores_of(" score , set \n1,id\n,\n2,ood\n", "id"), (std::vector<double>{1}));
  EXPECT_EQ(scores_of("set, logp\nood, 7\n", "ood", "logp"), (std::vector<double>{7}));
  test::expect_error([&] { scores_of("set,score\nid,\"1\n", "id"); },
                     {"s.csv' line 2", "never closed"});
  // Python reads a quote inside a field as text: the header is ["a", "b,\"c"].
  test::expect_error([&] { scores_of("a;b,\"c\n1;2\n", "id"); },
                     {"s.csv' has no column 'score'", "'a', 'b,\"c'"});
  test::expect_error([&] { scores_of("score,x,score\n1,2,3\n", ""); },
                     {"s.csv", "two columns named 'score'"});
}

TEST(ScoreFile, DelimiterAndDecimalCommaFollowTheHeaderLine) {
  // Excel where ',' is the decimal separator: ';' between fields.
  const std::string semicolon = "set;score\nid;0,5\nid;1,5\nood;-2,25e1\n";
  EXPECT_EQ(scores_of(semicolon, "id"), (std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(scores_of(semicolon, "ood"), (std::vector<double>{-22.5}));
  EXPECT_EQ(scores_of("set\tscore\nid\t3\nood\t4.5\n", "ood"), (std::vector<double>{4.5}));
  // A header name may hold another candidate: the delimiter that yields the column wins.
  EXPECT_EQ(scores_of("model;run,score\nm;1,0.5\n", ""), (std::vector<double>{0.5}));
  EXPECT_EQ(scores_of("score\n0,5\n1,25\n", ""), (std::vector<double>{0.5, 1.25}));
  EXPECT_EQ(scores_of(" \t\r\n\nset;score\nid;2,5\n", "id"), (std::vector<double>{2.5}));
  // With ',' between fields, a decimal comma splits the value: refused, never read as "0".
  test::expect_error([&] { scores_of("set,score\nid,0,5\n", "id"); },
                     {"s.csv' line 2", "3 fields", "header has 2"});
  test::expect_error([&] { scores_of("score\n1.234,5\n", ""); }, {"'1.234,5' is not a number"});
}

TEST(ScoreFile, EmptyCellsAndSpreadsheetErrorsAreErrorsNamingLineAndColumn) {
  test::expect_error([&] { scores_of("set,score\nid,1\nid,\n", "id"); },
                     {"s.csv' line 3", "column 2", "'score'", "empty"});
  test::expect_error([&] { scores_of("set;score;x\nid;#DIV/0!;1\n", "id"); },
                     {"s.csv' line 2", "column 2", "'#DIV/0!'", "spreadsheet error"});
  test::expect_error([&] { scores_of("score\n1\n#N/A\n", ""); }, {"line 3", "#N/A"});
  test::expect_error([&] { scores_of("score\n1\nNA\n", ""); }, {"line 3", "'NA' is not a number"});
  test::expect_error([&] { scores_of("score\n0x1p3\n", ""); }, {"line 2", "not a number"});
  // Literal non-finite values stay accepted (metrics count them).
  const auto v = scores_of("score\nnan\ninf\n-Infinity\n+1e400\n", "");
  ASSERT_EQ(v.size(), 4u);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], INFINITY);
  EXPECT_EQ(v[2], -INFINITY);
  EXPECT_EQ(v[3], INFINITY);
}

// Score vectors as numpy saves them from any real dtype: int16 big-endian, bool.
TEST(ScoreFile, ReadsNpyScoresOfAnyRealDtype) {
  const auto npy = [](const std::string& descr, const std::string& body, const char* shape) {
    std::string header =
        "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header.push_back('\n');
    return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header +
           body;
  };
  EXPECT_EQ(scores_of(npy(">i2", std::string("\xff\xfe\x01\x00", 4), "(2,)"), "", "", "s.npy"),
            (std::vector<double>{-2, 256}));
  EXPECT_EQ(scores_of(npy("|b1", std::string("\x00\x01\x05", 3), "(3, 1)"), "", "", "s.npy"),
            (std::vector<double>{0, 1, 1}));
}

TEST(Csv, QuotesAndSplitsRoundTrip) {
  std::vector<std::string> fields;
  const std::string line = csv_field("plain") + "," + csv_field("a,\"b\"") + "," + csv_field("");
  ASSERT_TRUE(split_csv_line(line, &fields));
  EXPECT_EQ(fields, (std::vector<std::string>{"plain", "a,\"b\"", ""}));
  EXPECT_FALSE(split_csv_line("\"open", &fields));
  for (double v : {0.1, static_cast<double>(0.1f), -372.0591735839844, 1e-300}) {
    EXPECT_EQ(std::strtod(format_score(v).c_str(), nullptr), v);
  }
  EXPECT_EQ(format_score(-INFINITY), "-inf");
}

}  // namespace
}  // namespace oodflow::io
