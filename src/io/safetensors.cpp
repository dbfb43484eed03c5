#include "oodflow/io/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"

namespace oodflow::io {
namespace {

using json = nlohmann::json;

// Real headers are a few KB; the reference implementation refuses more than 100 MB too.
constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

TensorView parse_tensor_entry(const std::string& name, const json& entry, const std::uint8_t* body,
                              std::uint64_t body_size, const std::string& source) {
  const std::string where = "'" + source + "': tensor '" + name + "'";
  OODFLOW_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") &&
                    entry.contains("data_offsets"),
                where << " lacks dtype, shape or data_offsets (corrupt header)");
  TensorView view;
  const json& dtype = entry["dtype"];
  OODFLOW_CHECK(dtype.is_string() && parse_dtype_name(dtype.get<std::string>(), &view.dtype),
                where << " has unsupported dtype " << dtype.dump());
  const json& shape = entry["shape"];
  OODFLOW_CHECK(shape.is_array(), where << " has a shape that is not a list");
  std::uint64_t numel = 1;
  for (const json& extent : shape) {
    OODFLOW_CHECK(extent.is_number_unsigned() || (extent.is_number_integer() && extent >= 0),
                  where << " has an invalid shape " << shape.dump());
    const auto e = extent.get<std::uint64_t>();
    // An extent of 0 elsewhere would let a huge one through the product check below.
    OODFLOW_CHECK(e <= static_cast<std::uint64_t>(INT64_MAX) && checked_mul(numel, e, &numel),
                  where << " has a shape too large: " << shape.dump());
    view.shape.push_back(static_cast<std::int64_t>(e));
  }
  std::uint64_t nbytes = 0;
  OODFLOW_CHECK(checked_mul(numel, dtype_size(view.dtype), &nbytes),
                where << " has a shape too large: " << shape.dump());
  const json& offsets = entry["data_offsets"];
  OODFLOW_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                    offsets[1].is_number_unsigned(),
                where << " has invalid data_offsets " << offsets.dump());
  const auto begin = offsets[0].get<std::uint64_t>();
  const auto end = offsets[1].get<std::uint64_t>();
  OODFLOW_CHECK(begin <= end && end <= body_size,
                where << " has data_offsets " << offsets.dump() << " outside the " << body_size
                      << " data bytes (file truncated or corrupt)");
  OODFLOW_CHECK(end - begin == nbytes, where << " holds " << end - begin << " bytes but its shape "
                                             << shape.dump() << " needs " << nbytes);
  view.data = body + begin;
  view.nbytes = static_cast<std::size_t>(nbytes);
  return view;
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
  OODFLOW_CHECK(header_size <= kMaxHeaderBytes && header_size <= size - 8,
                "'" << source << "' is not a valid safetensors file: header length " << header_size
                    << " exceeds the file size " << size << " (truncated or wrong format)");
  const char* header_begin = reinterpret_cast<const char*>(data + 8);
  json header = json::parse(header_begin, header_begin + header_size, nullptr, false);
  OODFLOW_CHECK(
      !header.is_discarded() && header.is_object(),
      "'" << source << "' is not a valid safetensors file: its header is not a JSON object");

  const std::uint8_t* body = data + 8 + header_size;
  const std::uint64_t body_size = size - 8 - header_size;
  SafetensorsView view;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      OODFLOW_CHECK(value.is_object(), "'" << source << "': __metadata__ is not an object");
      for (const auto& [mkey, mvalue] : value.items()) {
        OODFLOW_CHECK(mvalue.is_string(),
                      "'" << source << "': metadata entry '" << mkey << "' is not a string");
        view.metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    view.tensors[key] = parse_tensor_entry(key, value, body, body_size, source);
  }
  return view;
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : file_(std::make_shared<MappedFile>(path)),
      view_(parse_safetensors(file_->data(), file_->size(), path)) {}

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
