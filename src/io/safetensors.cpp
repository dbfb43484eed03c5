#include "oodflow/io/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <tuple>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/io/file_kind.h"
#include "text.h"

namespace oodflow::io {
namespace {

using json = nlohmann::json;
using detail::quoted_text;

// The reference implementation's limit; real headers are a few KB.
constexpr std::uint64_t kMaxHeaderBytes = 100000000;

// dtype names of the format that oodflow does not read (it refuses them by name rather than
// as garbage).
constexpr const char* kOtherFormatDtypes[] = {
    "BOOL",    "I8",      "I16",         "U16",         "U32", "U64",     "C64",    "F8_E5M2",
    "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F4",  "F6_E2M3", "F6_E3M2"};

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// One header entry; `view.data` is set once the ranges are known to tile the data buffer.
struct Entry {
  std::string name;
  TensorView view;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

Entry parse_tensor_entry(const std::string& name, const json& entry, const std::string& source) {
  const std::string where = "'" + source + "': tensor " + quoted_text(name);
  OODFLOW_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") &&
                    entry.contains("data_offsets"),
                where << " lacks dtype, shape or data_offsets (corrupt header)");
  Entry out;
  out.name = name;
  TensorView& view = out.view;
  const json& dtype = entry["dtype"];
  if (!dtype.is_string() || !parse_dtype_name(dtype.get<std::string>(), &view.dtype)) {
    for (const char* other : kOtherFormatDtypes) {
      OODFLOW_CHECK(!dtype.is_string() || dtype.get<std::string>() != other,
                    where << " has dtype " << other << ", which oodflow does not read (it reads "
                          << "F32, F64, F16, BF16, I64, I32 and U8)");
    }
    OODFLOW_FAIL(where << " has unsupported dtype " << quoted_text(dtype.dump()));
  }
  const json& shape = entry["shape"];
  OODFLOW_CHECK(shape.is_array(), where << " has a shape that is not a list");
  std::uint64_t numel = 1;
  for (const json& extent : shape) {
    OODFLOW_CHECK(extent.is_number_unsigned() || (extent.is_number_integer() && extent >= 0),
                  where << " has an invalid shape " << quoted_text(shape.dump()));
    const auto e = extent.get<std::uint64_t>();
    // Shapes are int64 here; the product check alone would let a huge extent beside a 0 pass.
    OODFLOW_CHECK(e <= static_cast<std::uint64_t>(INT64_MAX) && checked_mul(numel, e, &numel),
                  where << " has a shape too large: " << quoted_text(shape.dump()));
    view.shape.push_back(static_cast<std::int64_t>(e));
  }
  std::uint64_t nbytes = 0;
  OODFLOW_CHECK(checked_mul(numel, dtype_size(view.dtype), &nbytes),
                where << " has a shape too large: " << quoted_text(shape.dump()));
  const json& offsets = entry["data_offsets"];
  OODFLOW_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                    offsets[1].is_number_unsigned(),
                where << " has invalid data_offsets " << quoted_text(offsets.dump()));
  out.begin = offsets[0].get<std::uint64_t>();
  out.end = offsets[1].get<std::uint64_t>();
  OODFLOW_CHECK(out.begin <= out.end,
                where << " has data_offsets " << offsets.dump() << " that end before they begin");
  OODFLOW_CHECK(out.end - out.begin == nbytes, where << " holds " << out.end - out.begin
                                                     << " bytes but its shape " << shape.dump()
                                                     << " needs " << nbytes);
  view.nbytes = static_cast<std::size_t>(nbytes);
  return out;
}

// The reference implementation's layout rule: sorted by offsets, each range starts where the
// previous one ended, from 0 to the end of the data. Otherwise two tensors could share bytes
// (a `logits` aliasing `features`) or bytes no tensor owns could hide anything.
void check_tiling(std::vector<Entry>* entries, std::uint64_t body_size, const std::string& source) {
  std::sort(entries->begin(), entries->end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  std::uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : *entries) {
    OODFLOW_CHECK(e.begin >= expected,
                  "'" << source << "': tensor " << quoted_text(e.name) << " (data bytes " << e.begin
                      << ".." << e.end << ") overlaps tensor " << quoted_text(previous->name)
                      << " (which ends at " << expected
                      << "); each data byte must belong to exactly one tensor");
    OODFLOW_CHECK(e.begin == expected,
                  "'" << source << "': tensor " << quoted_text(e.name) << " starts at data byte "
                      << e.begin << ", but "
                      << (previous == nullptr ? "the data begins at 0"
                                              : "tensor " + quoted_text(previous->name) +
                                                    " ends at " + std::to_string(expected))
                      << ": " << e.begin - expected << " bytes belong to no tensor");
    expected = e.end;
    previous = &e;
  }
  OODFLOW_CHECK(expected <= body_size, "'" << source << "' is truncated: tensor "
                                           << quoted_text(previous->name) << " ends at data byte "
                                           << expected << " but the file holds " << body_size
                                           << " data bytes");
  OODFLOW_CHECK(
      expected == body_size,
      "'" << source << "': " << body_size - expected << " bytes after "
          << (previous == nullptr ? "the header" : "tensor " + quoted_text(previous->name))
          << " belong to no tensor; the data must end with the last tensor");
}

// Parses the header JSON, refusing duplicate keys at any depth (the format forbids them; a
// JSON parser would keep the last one silently).
json parse_header_json(const char* begin, const char* end, const std::string& source) {
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  const json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      keys.pop_back();
    } else if (event == json::parse_event_t::key && !keys.empty() &&
               !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json header = json::parse(begin, end, callback, false);
  OODFLOW_CHECK(
      !header.is_discarded() && header.is_object(),
      "'" << source << "' is not a valid safetensors file: its header is not a JSON object");
  OODFLOW_CHECK(duplicate.empty(), "'" << source << "' is not a valid safetensors file: its header "
                                       << "has the duplicate key " << quoted_text(duplicate));
  return header;
}

}  // namespace

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (auto e : shape) n *= e;
  return n;
}

const TensorView* SafetensorsView::find(const std::string& name) const {
  const auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

SafetensorsView parse_safetensors(const std::uint8_t* data, std::size_t size,
                                  const std::string& source) {
  OODFLOW_CHECK(size >= 8, "'" << source << "' is not a safetensors file: only " << size
                               << " bytes, the header length alone needs 8");
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | data[i];
  OODFLOW_CHECK(header_size <= kMaxHeaderBytes,
                "'" << source << "' is not a valid safetensors file: header length " << header_size
                    << " exceeds the format's limit of " << kMaxHeaderBytes << " bytes");
  OODFLOW_CHECK(header_size <= size - 8, "'" << source
                                             << "' is not a valid safetensors file: header length "
                                             << header_size << " runs past the end of the file ("
                                             << size << " bytes; truncated or wrong format)");
  const std::string_view header_text(reinterpret_cast<const char*>(data + 8), header_size);
  OODFLOW_CHECK(!header_text.empty() && header_text[0] == '{',
                "'" << source << "' is not a valid safetensors file: its header must begin with "
                    << "'{'");
  OODFLOW_CHECK(detail::is_utf8(header_text),
                "'" << source << "' is not a valid safetensors file: its header is not UTF-8");
  const json header =
      parse_header_json(header_text.data(), header_text.data() + header_text.size(), source);

  const std::uint8_t* body = data + 8 + header_size;
  const std::uint64_t body_size = size - 8 - header_size;
  SafetensorsView view;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (value.is_null()) continue;  // the reference reads null as "no metadata"
      OODFLOW_CHECK(value.is_object(), "'" << source << "': __metadata__ is not an object");
      for (const auto& [mkey, mvalue] : value.items()) {
        OODFLOW_CHECK(mvalue.is_string(), "'" << source << "': metadata entry " << quoted_text(mkey)
                                              << " is not a string");
        view.metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_tensor_entry(key, value, source));
  }
  check_tiling(&entries, body_size, source);
  for (Entry& e : entries) {
    e.view.data = body + e.begin;
    view.tensors[e.name] = std::move(e.view);
  }
  return view;
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : file_(std::make_shared<MappedFile>(path)),
      view_((check_kind_matches_name(path, file_->data(), file_->size()),
             parse_safetensors(file_->data(), file_->size(), path))) {}

const TensorView& SafetensorsFile::require(const std::string& name) const {
  const TensorView* t = view_.find(name);
  OODFLOW_CHECK(t != nullptr, "'" << path() << "' has no tensor '" << name << "'");
  return *t;
}

namespace {

// The length prefix and JSON header, plus the tensors in the order their data must follow.
std::string encode_header(const std::vector<TensorSpec>& tensors,
                          const std::map<std::string, std::string>& metadata,
                          std::vector<std::pair<const TensorSpec*, std::uint64_t>>* layout) {
  std::vector<const TensorSpec*> ordered;
  for (const auto& t : tensors) ordered.push_back(&t);
  std::sort(ordered.begin(), ordered.end(),
            [](const TensorSpec* a, const TensorSpec* b) { return a->name < b->name; });

  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const TensorSpec* t : ordered) {
    OODFLOW_CHECK(t->name != "__metadata__", "a tensor cannot be named __metadata__");
    std::uint64_t nbytes = dtype_size(t->dtype);
    for (auto e : t->shape) nbytes *= static_cast<std::uint64_t>(e);
    header[t->name] = {{"dtype", dtype_name(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    layout->emplace_back(t, nbytes);
  }
  std::string header_text = header.dump();
  // The format asks for 8-byte aligned data; pad the header with spaces.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::string out;
  const std::uint64_t header_size = header_text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((header_size >> (8 * i)) & 0xff));
  return out + header_text;
}

}  // namespace

std::string serialize_safetensors(const std::vector<TensorSpec>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<const TensorSpec*, std::uint64_t>> layout;
  std::string out = encode_header(tensors, metadata, &layout);
  for (const auto& [tensor, nbytes] : layout) {
    if (tensor->stream) {
      tensor->stream([&](const void* bytes, std::size_t size) {
        out.append(static_cast<const char*>(bytes), size);
      });
    } else {
      out.append(static_cast<const char*>(tensor->data), nbytes);
    }
  }
  return out;
}

void write_safetensors(const std::string& path, const std::vector<TensorSpec>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Streams each tensor straight from the caller's memory: no second copy of large data.
  std::vector<std::pair<const TensorSpec*, std::uint64_t>> layout;
  const std::string header = encode_header(tensors, metadata, &layout);
  AtomicFile file(path);
  file.write(header);
  for (const auto& [tensor, nbytes] : layout) {
    if (!tensor->stream) {
      file.write(tensor->data, nbytes);
      continue;
    }
    std::uint64_t written = 0;
    tensor->stream([&](const void* bytes, std::size_t size) {
      file.write(bytes, size);
      written += size;
    });
    OODFLOW_CHECK(written == nbytes, "internal: tensor '" << tensor->name << "' streamed "
                                                          << written << " of " << nbytes
                                                          << " bytes");
  }
  file.commit();
}

}  // namespace oodflow::io
