#include "py_literal.h"

#include <utility>

#include "oodflow/core/error.h"
#include "text.h"

namespace oodflow::io::detail {
namespace {

using Kind = PyValue::Kind;

enum class Tok { kNumber, kName, kString, kOp, kNewline, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // name or operator
  PyValue value;     // number or string constant
  std::size_t pos = 0;
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

int digit_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// Python's tokenizer as literal_eval meets it, on text whose line ends are already '\n'.
class Lexer {
 public:
  Lexer(std::string_view text, bool drop_long, const std::string& where)
      : s_(text), drop_long_(drop_long), where_(where) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) {
      if (line_start_ && depth_ == 0 && !indentation()) continue;
      step();
    }
    OODFLOW_CHECK(depth_ == 0, where_ << ": a bracket is never closed");
    emit(Tok::kEnd, "");
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    OODFLOW_FAIL(where_ << ": " << what << " at character " << pos_);
  }

  // At the start of a line outside brackets: blank and comment lines are skipped; any other
  // line must start in column 0 (eval mode has no indented block). False after a blank line.
  bool indentation() {
    const std::size_t line_begin = pos_;
    int col = 0;
    int altcol = 0;
    for (; pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\f'); ++pos_) {
      if (s_[pos_] == '\f') {
        col = altcol = 0;
      } else {
        col = s_[pos_] == '\t' ? (col / 8 + 1) * 8 : col + 1;
        ++altcol;
      }
    }
    if (pos_ == s_.size() || s_[pos_] == '\n' || s_[pos_] == '#') {
      while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      if (pos_ < s_.size()) ++pos_;
      return false;
    }
    // numpy's `L` filter re-spaces the header (tokenize.untokenize): whitespace before the first
    // token of a line becomes spaces, which literal_eval strips on the first line and reads as
    // an indent on any other (even a form feed).
    const bool indented = drop_long_ ? line_begin != 0 && pos_ > line_begin : col || altcol;
    if (indented) fail("unexpected indent");
    line_start_ = false;
    return true;
  }

  void emit(Tok kind, std::string text, PyValue value = {}) {
    tokens_.push_back({kind, std::move(text), std::move(value), pos_});
    after_number_ = kind == Tok::kNumber;
  }

  void step() {
    const char c = s_[pos_];
    if (c == ' ' || c == '\t' || c == '\f') {
      ++pos_;
    } else if (c == '\\') {
      if (pos_ + 1 >= s_.size() || s_[pos_ + 1] != '\n') fail("stray backslash");
      pos_ += 2;  // a line continuation: not a token, so an `L` after it still follows a number
    } else if (c == '#') {
      while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      after_number_ = false;  // the comment is a token for numpy's filter
    } else if (c == '\n') {
      ++pos_;
      after_number_ = false;
      if (depth_ == 0) {
        if (!tokens_.empty() && tokens_.back().kind != Tok::kNewline) emit(Tok::kNewline, "");
        line_start_ = true;
      }
    } else if (is_digit(c) || (c == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1]))) {
      number();
    } else if (is_name_start(c)) {
      name();
    } else if (c == '\'' || c == '"') {
      string("");
    } else if (s_.compare(pos_, 3, "...") == 0) {
      emit(Tok::kOp, "...", PyValue{Kind::kEllipsis});
      pos_ += 3;
    } else if (c == '(' || c == '[' || c == '{' || c == ')' || c == ']' || c == '}' || c == ',' ||
               c == ':' || c == '+' || c == '-') {
      if (c == '(' || c == '[' || c == '{') {
        if (++depth_ > 200) fail("too many nested brackets");  // CPython's limit
      } else if (c == ')' || c == ']' || c == '}') {
        if (--depth_ < 0) fail("unmatched bracket");
      }
      emit(Tok::kOp, std::string(1, c));
      ++pos_;
    } else {
      fail("unexpected character " + quoted_text(std::string_view(&s_[pos_], 1)));
    }
  }

  void name() {
    const std::size_t begin = pos_;
    while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
    std::string word(s_.substr(begin, pos_ - begin));
    if (pos_ < s_.size() && (s_[pos_] == '\'' || s_[pos_] == '"')) {
      std::string prefix = word;
      for (char& ch : prefix) ch = static_cast<char>(ch | 0x20);  // ASCII lower case
      for (const char* p : {"r", "u", "b", "br", "rb", "f", "fr", "rf"}) {
        if (prefix == p) return string(prefix);
      }
    }
    if (pos_ < s_.size() && static_cast<unsigned char>(s_[pos_]) >= 0x80) fail("non-ASCII name");
    if (drop_long_ && after_number_ && word == "L") return;  // Python 2's long suffix
    emit(Tok::kName, std::move(word));
  }

  // digitpart: digits with single '_' between them; false when none.
  bool digits(int base, PyValue* value) {
    const std::size_t begin = pos_;
    while (pos_ < s_.size() && digit_value(s_[pos_]) < base) {
      if (value != nullptr) {
        const auto d = static_cast<std::uint64_t>(digit_value(s_[pos_]));
        if (__builtin_mul_overflow(value->magnitude, static_cast<std::uint64_t>(base),
                                   &value->magnitude) ||
            __builtin_add_overflow(value->magnitude, d, &value->magnitude)) {
          value->huge = true;
        }
      }
      ++pos_;
      if (pos_ + 1 < s_.size() && s_[pos_] == '_' && digit_value(s_[pos_ + 1]) < base) ++pos_;
    }
    return pos_ > begin;
  }

  void number() {
    const std::size_t begin = pos_;
    PyValue v{Kind::kInt};
    const char base_char = pos_ + 1 < s_.size() ? static_cast<char>(s_[pos_ + 1] | 0x20) : 0;
    if (s_[pos_] == '0' && (base_char == 'x' || base_char == 'o' || base_char == 'b')) {
      pos_ += 2;
      if (pos_ < s_.size() && s_[pos_] == '_') ++pos_;
      if (!digits(base_char == 'x' ? 16 : base_char == 'o' ? 8 : 2, &v)) fail("invalid number");
    } else {
      digits(10, &v);
      const std::string_view int_part = s_.substr(begin, pos_ - begin);
      if (pos_ < s_.size() && s_[pos_] == '.') {
        ++pos_;
        v.kind = Kind::kFloat;
        digits(10, nullptr);
      }
      const bool sign = pos_ + 1 < s_.size() && (s_[pos_ + 1] == '+' || s_[pos_ + 1] == '-');
      if (pos_ + 1 < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E') &&
          pos_ + (sign ? 2 : 1) < s_.size() && is_digit(s_[pos_ + (sign ? 2 : 1)])) {
        pos_ += sign ? 2 : 1;
        v.kind = Kind::kFloat;
        digits(10, nullptr);
      }
      if (pos_ < s_.size() && (s_[pos_] == 'j' || s_[pos_] == 'J')) {
        ++pos_;
        v.kind = Kind::kComplex;
      }
      if (v.kind == Kind::kInt && int_part.size() > 1 && int_part[0] == '0' &&
          int_part.find_first_not_of("0_") != std::string_view::npos) {
        fail("leading zeros in a decimal integer");
      }
    }
    emit(Tok::kNumber, std::string(s_.substr(begin, pos_ - begin)), std::move(v));
    if (pos_ < s_.size() && is_name_char(s_[pos_])) {
      const std::size_t name_begin = pos_;
      while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
      if (!(drop_long_ && s_.substr(name_begin, pos_ - name_begin) == "L")) {
        pos_ = name_begin;
        fail("invalid number");
      }
    }
  }

  // Reads `count` hex digits of an escape at pos_.
  char32_t hex_escape(int count) {
    char32_t cp = 0;
    for (int i = 0; i < count; ++i, ++pos_) {
      if (pos_ >= s_.size() || digit_value(s_[pos_]) >= 16)
        fail("truncated \\x, \\u or \\U escape");
      cp = cp * 16 + static_cast<char32_t>(digit_value(s_[pos_]));
    }
    return cp;
  }

  // One backslash escape of a non-raw literal (pos_ past the backslash).
  void escape(bool bytes, std::string* out) {
    const char d = s_[pos_++];
    static constexpr std::string_view kSimple = "\\\\''\"\"a\ab\bf\fn\nr\rt\tv\v";
    for (std::size_t i = 0; i < kSimple.size(); i += 2) {
      if (kSimple[i] == d) return out->push_back(kSimple[i + 1]);
    }
    char32_t cp = 0;
    if (d == '\n') return;  // a line continuation inside the literal
    if (d >= '0' && d <= '7') {
      cp = static_cast<char32_t>(d - '0');
      for (int i = 0; i < 2 && pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '7'; ++i) {
        cp = cp * 8 + static_cast<char32_t>(s_[pos_++] - '0');
      }
      if (bytes && cp > 0xff) fail("octal escape above \\377 in bytes");
    } else if (d == 'x') {
      cp = hex_escape(2);
    } else if (!bytes && (d == 'u' || d == 'U')) {
      cp = hex_escape(d == 'u' ? 4 : 8);
      if (cp > 0x10ffff) fail("\\U escape beyond U+10FFFF");
    } else if (!bytes && d == 'N') {
      fail("\\N{...} escapes are not supported");
    } else {
      out->push_back('\\');  // unknown escapes stay as written
      out->push_back(d);
      return;
    }
    if (bytes) return out->push_back(static_cast<char>(cp));
    append_utf8(cp, out);
  }

  void string(const std::string& prefix) {
    const bool raw = prefix.find('r') != std::string::npos;
    const bool bytes = prefix.find('b') != std::string::npos;
    if (prefix.find('f') != std::string::npos) fail("f-strings are not literals");
    const char q = s_[pos_];
    const bool triple = s_.compare(pos_, 3, std::string(3, q)) == 0;
    pos_ += triple ? 3 : 1;
    PyValue v{bytes ? Kind::kBytes : Kind::kStr};
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const char c = s_[pos_];
      if (triple ? s_.compare(pos_, 3, std::string(3, q)) == 0 : c == q) break;
      if (c == '\n' && !triple) fail("unterminated string");
      if (bytes && static_cast<unsigned char>(c) >= 0x80) fail("non-ASCII character in bytes");
      ++pos_;
      if (c != '\\') {
        v.text.push_back(c);
      } else if (pos_ >= s_.size()) {
        fail("unterminated string");
      } else if (raw) {
        v.text.push_back('\\');  // keeps the next character, even a quote, as written
        v.text.push_back(s_[pos_++]);
      } else {
        escape(bytes, &v.text);
      }
    }
    pos_ += triple ? 3 : 1;
    emit(Tok::kString, "", std::move(v));
  }

  std::string_view s_;
  bool drop_long_;
  const std::string& where_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  bool line_start_ = true;
  bool after_number_ = false;
};

// A parsed expression and the shape of its syntax tree, which literal_eval's rules depend on.
struct Node {
  PyValue value;
  enum class Shape { kConstant, kSigned, kOther } shape = Shape::kConstant;
};

bool is_number(const PyValue& v) {
  return v.kind == Kind::kInt || v.kind == Kind::kFloat || v.kind == Kind::kComplex;
}

bool hashable(const PyValue& v) {
  if (v.kind == Kind::kList || v.kind == Kind::kDict || v.kind == Kind::kSet) return false;
  for (const PyValue& item : v.items) {
    if (!hashable(item)) return false;
  }
  return true;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& where)
      : tokens_(std::move(tokens)), where_(where) {}

  PyValue run() {
    Node node = expression();
    if (is_op(",")) fail("a tuple at the top level");
    while (peek().kind == Tok::kNewline) ++next_;
    if (peek().kind != Tok::kEnd) fail("text after the literal");
    return std::move(node.value);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    OODFLOW_FAIL(where_ << ": " << what << " at character " << peek().pos);
  }
  const Token& peek() const { return tokens_[next_]; }
  bool is_op(const char* op) const { return peek().kind == Tok::kOp && peek().text == op; }
  void expect(const char* op) {
    if (!is_op(op)) fail(std::string("expected '") + op + "'");
    ++next_;
  }

  // literal_eval: a signed real number +/- an imaginary one is the only operator it evaluates.
  Node expression() {
    Node left = unary();
    if (!is_op("+") && !is_op("-")) return left;
    ++next_;
    const Node right = unary();
    if (left.shape == Node::Shape::kOther || left.value.kind == Kind::kComplex ||
        !is_number(left.value) || right.shape != Node::Shape::kConstant ||
        right.value.kind != Kind::kComplex || is_op("+") || is_op("-")) {
      fail("an operation that is not a complex number literal");
    }
    return {PyValue{Kind::kComplex}, Node::Shape::kOther};
  }

  Node unary() {
    if (!is_op("+") && !is_op("-")) return postfix();
    const bool minus = is_op("-");
    ++next_;
    Node operand = unary();
    if (operand.shape != Node::Shape::kConstant || !is_number(operand.value)) {
      fail("a sign on something other than a number");
    }
    if (minus && operand.value.kind == Kind::kInt && operand.value.magnitude != 0) {
      operand.value.negative = !operand.value.negative;
    }
    operand.shape = Node::Shape::kSigned;
    return operand;
  }

  Node postfix() {
    Node node = atom();
    if (is_op("(") || is_op("[")) fail("a call or subscript");
    return node;
  }

  // Elements up to `close`, after the opening bracket and any first element.
  void elements(const char* close, std::vector<PyValue>* items) {
    while (!is_op(close)) {
      expect(",");
      if (is_op(close)) break;
      items->push_back(expression().value);
    }
    ++next_;
  }

  Node atom() {
    const Token& t = peek();
    ++next_;
    if (t.kind == Tok::kNumber) return {t.value};
    if (t.kind == Tok::kString) return strings(t);
    if (t.kind == Tok::kName) return name(t);
    if (t.kind == Tok::kOp && t.text == "...") return {t.value};
    if (t.kind == Tok::kOp && t.text == "(") {
      if (is_op(")")) return (++next_, Node{PyValue{Kind::kTuple}, Node::Shape::kOther});
      Node first = expression();
      if (is_op(")")) return (++next_, first);  // parentheses alone make no node
      Node tuple{PyValue{Kind::kTuple}, Node::Shape::kOther};
      tuple.value.items.push_back(std::move(first.value));
      elements(")", &tuple.value.items);
      return tuple;
    }
    if (t.kind == Tok::kOp && t.text == "[") {
      Node list{PyValue{Kind::kList}, Node::Shape::kOther};
      if (!is_op("]")) list.value.items.push_back(expression().value);
      elements("]", &list.value.items);
      return list;
    }
    if (t.kind == Tok::kOp && t.text == "{") return braces();
    --next_;
    fail("unexpected " + (t.kind == Tok::kEnd ? std::string("end") : quoted_text(t.text)));
  }

  Node strings(const Token& first) {
    Node node{first.value};
    while (peek().kind == Tok::kString) {
      if (peek().value.kind != node.value.kind) fail("bytes and str literals mixed");
      node.value.text += peek().value.text;
      ++next_;
    }
    return node;
  }

  Node name(const Token& t) {
    if (t.text == "True" || t.text == "False") {
      PyValue v{Kind::kBool};
      v.truth = t.text == "True";
      return {v};
    }
    if (t.text == "None") return {PyValue{Kind::kNone}};
    if (t.text == "set" && is_op("(")) {  // literal_eval's one call: the empty set
      ++next_;
      expect(")");
      return {PyValue{Kind::kSet}, Node::Shape::kOther};
    }
    --next_;
    fail("the name " + quoted_text(t.text) + ", which is not a literal");
  }

  Node braces() {
    if (is_op("}")) return (++next_, Node{PyValue{Kind::kDict}, Node::Shape::kOther});
    PyValue first = expression().value;
    if (!is_op(":")) {
      Node set{PyValue{Kind::kSet}, Node::Shape::kOther};
      set.value.items.push_back(std::move(first));
      elements("}", &set.value.items);
      for (const PyValue& item : set.value.items) {
        if (!hashable(item)) fail("an unhashable set element");
      }
      return set;
    }
    Node dict{PyValue{Kind::kDict}, Node::Shape::kOther};
    dict.value.items.push_back(std::move(first));
    while (true) {
      expect(":");
      dict.value.items.push_back(expression().value);
      if (is_op("}")) break;
      expect(",");
      if (is_op("}")) break;
      dict.value.items.push_back(expression().value);
    }
    ++next_;
    for (std::size_t i = 0; i < dict.value.items.size(); i += 2) {
      if (!hashable(dict.value.items[i])) fail("an unhashable dict key");
    }
    return dict;
  }

  std::vector<Token> tokens_;
  const std::string& where_;
  std::size_t next_ = 0;
};

}  // namespace

PyValue parse_py_literal(std::string_view source, bool drop_long_suffix, const std::string& where) {
  OODFLOW_CHECK(source.find('\0') == std::string_view::npos, where << ": a NUL character");
  // Python reads "\r\n" and a lone "\r" as "\n"; literal_eval strips leading spaces and tabs.
  std::string text;
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] != '\r') {
      text.push_back(source[i]);
    } else if (i + 1 >= source.size() || source[i + 1] != '\n') {
      text.push_back('\n');
    }
  }
  text.erase(0, text.find_first_not_of(" \t"));
  Parser parser(Lexer(text, drop_long_suffix, where).run(), where);
  return parser.run();
}

std::string py_repr(const PyValue& v) {
  switch (v.kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return v.truth ? "True" : "False";
    case Kind::kInt:
      return v.huge ? (v.negative ? "-(huge)" : "(huge)")
                    : (v.negative ? "-" : "") + std::to_string(v.magnitude);
    case Kind::kFloat:
      return "(a float)";
    case Kind::kComplex:
      return "(a complex)";
    case Kind::kStr:
      return quoted_text(v.text);
    case Kind::kBytes:
      return "b" + quoted_text(v.text);
    case Kind::kEllipsis:
      return "...";
    case Kind::kDict:
      return "{...}";
    default:
      break;
  }
  const char* brackets = v.kind == Kind::kTuple ? "()" : v.kind == Kind::kList ? "[]" : "{}";
  std::string out(1, brackets[0]);
  for (std::size_t i = 0; i < v.items.size() && out.size() < 80; ++i) {
    out += (i > 0 ? ", " : "") + py_repr(v.items[i]);
  }
  if (v.kind == Kind::kTuple && v.items.size() == 1) out += ",";
  return out + brackets[1];
}

}  // namespace oodflow::io::detail
