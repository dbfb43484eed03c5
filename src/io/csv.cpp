#include "oodflow/io/csv.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <utility>

#include "oodflow/core/error.h"
#include "text.h"

namespace oodflow::io {

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

bool split_csv_line(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
    } else {
      field.push_back(c);
    }
  }
  fields->push_back(std::move(field));
  return !quoted;
}

std::string format_score(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[32];
  // The shortest text that reads back to the same double: `metrics` on a scores CSV then
  // sees exactly the numbers `score` evaluated (same AUROC, same threshold95).
  const auto result = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, result.ptr);
}

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string decode_utf16(std::string_view bytes, bool big_endian, const std::string& source) {
  OODFLOW_CHECK(bytes.size() % 2 == 0, "'" << source << "' is UTF-16 text (it starts with a "
                                           << "byte-order mark) but has an odd number of bytes");
  const auto unit = [&](std::size_t i) {
    const auto a = static_cast<unsigned char>(bytes[i]);
    const auto b = static_cast<unsigned char>(bytes[i + 1]);
    return static_cast<char32_t>(big_endian ? (a << 8) | b : (b << 8) | a);
  };
  std::string out;
  out.reserve(bytes.size() / 2);
  for (std::size_t i = 2; i < bytes.size(); i += 2) {
    char32_t cp = unit(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 3 < bytes.size() && unit(i + 2) >= 0xdc00 &&
        unit(i + 2) <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (unit(i + 2) - 0xdc00);
      i += 2;
    } else {
      OODFLOW_CHECK(cp < 0xd800 || cp > 0xdfff, "'" << source << "' is not valid UTF-16: unpaired "
                                                    << "surrogate at byte " << i);
    }
    detail::append_utf8(cp, &out);
  }
  return out;
}

}  // namespace

std::string decode_text(std::string_view bytes, const std::string& source) {
  const auto starts_with = [&](std::string_view prefix) {
    return bytes.substr(0, prefix.size()) == prefix;
  };
  using namespace std::string_view_literals;
  OODFLOW_CHECK(!starts_with("\xff\xfe\0\0"sv) && !starts_with("\0\0\xfe\xff"sv),
                "'" << source << "' is UTF-32 text, which oodflow does not read; save it as "
                    << "UTF-8 (\"CSV UTF-8\")");
  std::string text;
  if (starts_with("\xff\xfe"sv) || starts_with("\xfe\xff"sv)) {
    text = decode_utf16(bytes, bytes[0] == '\xfe', source);
  } else {
    // A UTF-8 byte-order mark (Excel's "CSV UTF-8") is not part of the first header name.
    text.assign(starts_with("\xef\xbb\xbf"sv) ? bytes.substr(3) : bytes);
  }
  const std::size_t nul = text.find('\0');
  OODFLOW_CHECK(nul == std::string::npos,
                "'" << source << "' holds a NUL character (text byte " << nul
                    << "): UTF-16 or UTF-32 without a byte-order mark? Save it as UTF-8");
  return text;
}

char detect_delimiter(std::string_view text, std::string_view column) {
  // The first line with more than spaces and tabs (the header, or the first value).
  std::size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return 0;
  begin = text.find_last_of("\r\n", begin) + 1;  // npos + 1 == 0
  std::size_t end = begin;
  bool quoted = false;
  for (; end < text.size() && (quoted || (text[end] != '\n' && text[end] != '\r')); ++end) {
    if (text[end] == '"') quoted = !quoted;
  }
  const std::string_view line = text.substr(begin, end - begin);
  std::vector<char> present;
  for (char d : {'\t', ';', ','}) {
    quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      if (c == d && !quoted) {
        present.push_back(d);
        break;
      }
    }
  }
  if (present.size() <= 1) return present.empty() ? 0 : present.front();
  // Excel writes ';' where the decimal separator is ',', and tab in "Unicode text"; a header
  // name may hold another candidate (unquoted), so the one that yields the wanted column wins.
  for (char d : present) {
    CsvReader reader(line, d, "");
    CsvRecord header;
    try {
      if (!reader.next(&header)) continue;
    } catch (const Error&) {
      break;  // a quote never closed: the real read reports it, naming the file
    }
    for (const auto& field : header.fields) {
      if (trim(field) == column) return d;
    }
  }
  return present.front();
}

CsvReader::CsvReader(std::string_view text, char delimiter, std::string source)
    : text_(text), delimiter_(delimiter), source_(std::move(source)) {}

bool CsvReader::at_line_break(std::size_t pos) const {
  return text_[pos] == '\n' || text_[pos] == '\r';
}

void CsvReader::skip_line_break() {
  pos_ += text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n' ? 2 : 1;
  ++line_;
}

bool CsvReader::next(CsvRecord* record) {
  while (pos_ < text_.size() && at_line_break(pos_)) skip_line_break();
  if (pos_ >= text_.size()) return false;
  record->fields.clear();
  record->line = line_;
  enum class State { kFieldStart, kUnquoted, kQuoted, kAfterQuote } state = State::kFieldStart;
  std::string field;
  long quote_line = 0;
  while (true) {
    if (pos_ == text_.size()) {
      OODFLOW_CHECK(state != State::kQuoted, "'" << source_ << "' line " << quote_line
                                                 << ": a quoted field is never closed");
      record->fields.push_back(std::move(field));
      return true;
    }
    const char c = text_[pos_];
    if (state == State::kQuoted) {
      if (c == '"' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
        field.push_back('"');
        pos_ += 2;
      } else if (c == '"') {
        state = State::kAfterQuote;
        ++pos_;
      } else if (at_line_break(pos_)) {
        const std::size_t from = pos_;
        skip_line_break();
        field.append(text_.substr(from, pos_ - from));  // kept as written, as Python does
      } else {
        field.push_back(c);
        ++pos_;
      }
    } else if (at_line_break(pos_)) {
      skip_line_break();
      record->fields.push_back(std::move(field));
      return true;
    } else if (delimiter_ != 0 && c == delimiter_) {
      record->fields.push_back(std::move(field));
      field.clear();
      state = State::kFieldStart;
      ++pos_;
    } else if (c == '"' && state == State::kFieldStart) {
      state = State::kQuoted;
      quote_line = line_;
      ++pos_;
    } else {
      field.push_back(c);
      state = State::kUnquoted;
      ++pos_;
    }
  }
}

}  // namespace oodflow::io
