// Delimited text (CSV) as spreadsheets and Python's csv module write it, for score files:
// UTF-8 with or without a byte-order mark, or UTF-16 with one (Excel's "Unicode text"); CRLF,
// LF or lone-CR line ends; RFC 4180 quoting (delimiters, quotes and line breaks inside quoted
// fields); ',', ';' or tab as the delimiter. Also the writer side: quoting and number text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace oodflow::io {

/// Quotes a field when it holds a comma, quote or newline.
std::string csv_field(std::string_view text);
/// Splits one line into fields; returns false on an unterminated quote.
bool split_csv_line(std::string_view line, std::vector<std::string>* fields);
/// Shortest text that reads back to the same double ("nan", "inf", "-inf" for non-finite).
std::string format_score(double value);

/// The text of a file as UTF-8: drops a UTF-8 byte-order mark, decodes UTF-16 that starts with
/// one; throws Error naming `source` for UTF-32, bad UTF-16 and NUL characters (UTF-16 without
/// a byte-order mark).
std::string decode_text(std::string_view bytes, const std::string& source);

/// The delimiter of `text` (',', ';' or '\t'), from its first non-empty line: the one among
/// those that line holds (outside quotes) that makes a header field named `column`, else the
/// first it holds of tab, ';', ','; 0 when it holds none (a single column).
char detect_delimiter(std::string_view text, std::string_view column);

/// One record of a delimited file.
struct CsvRecord {
  std::vector<std::string> fields;
  /// Line on which the record starts (1-based).
  long line = 0;
};

/// Reads the records of decoded text one by one, as Python's csv module (excel dialect) does:
/// a quote opens a quoted field only at the start of a field, "" inside one is a quote, text
/// after the closing quote is kept. Empty lines give no record.
class CsvReader {
 public:
  /// `delimiter` 0 reads each line as one field; `source` names the file in errors.
  CsvReader(std::string_view text, char delimiter, std::string source);
  /// The next record; false at the end. Throws Error on a quote left open at the end.
  bool next(CsvRecord* record);

 private:
  bool at_line_break(std::size_t pos) const;
  void skip_line_break();

  std::string_view text_;
  char delimiter_;
  std::string source_;
  std::size_t pos_ = 0;
  long line_ = 1;
};

}  // namespace oodflow::io
