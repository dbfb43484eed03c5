// The Python literals of .npy headers (internal to io/). numpy reads a header with
// ast.literal_eval, after removing the `L` that Python 2 wrote after integers (format versions
// 1.0 and 2.0 only); this reads the same language: strings (prefixes, escapes, implicit
// concatenation), numbers, True/False/None, ..., tuples, lists, sets, set(), dicts, one sign on a
// number, and real +/- imaginary. Whatever literal_eval refuses is an Error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace oodflow::io::detail {

/// The value of a literal, as far as .npy headers need it.
struct PyValue {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kComplex,
    kStr,
    kBytes,
    kEllipsis,
    kTuple,
    kList,
    kSet,
    kDict
  };
  PyValue() = default;
  explicit PyValue(Kind k) : kind(k) {}

  Kind kind = Kind::kNone;
  /// kBool.
  bool truth = false;
  /// kInt: |value| when it fits 64 bits (else `huge`), and its sign.
  std::uint64_t magnitude = 0;
  bool negative = false;
  bool huge = false;
  /// kStr (UTF-8) or kBytes.
  std::string text;
  /// kTuple, kList, kSet: the elements; kDict: key, value, key, value... in source order.
  std::vector<PyValue> items;
};

/// Evaluates `source` (UTF-8) as ast.literal_eval(source) does; `drop_long_suffix` first drops
/// an `L` name token that follows a number, as numpy does for format versions 1.0 and 2.0.
/// Throws Error "<where>: <reason>" when literal_eval would refuse it.
PyValue parse_py_literal(std::string_view source, bool drop_long_suffix, const std::string& where);

/// A short Python-like rendering for messages: (5, 2), '<f8', True.
std::string py_repr(const PyValue& value);

}  // namespace oodflow::io::detail
