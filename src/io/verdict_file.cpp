#include "oodflow/io/verdict_file.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/io/csv.h"

namespace oodflow::io {
namespace {

constexpr std::size_t kFlushBytes = 1u << 20;

}  // namespace

const std::vector<std::string>& verdict_format_names() {
  static const std::vector<std::string> names = {"csv", "jsonl"};
  return names;
}

VerdictFormat parse_verdict_format(const std::string& name) {
  if (name == "csv") return VerdictFormat::kCsv;
  if (name == "jsonl") return VerdictFormat::kJsonLines;
  OODFLOW_FAIL("--format must be csv or jsonl, got '" << name << "'");
}

VerdictWriter::VerdictWriter(const std::string& path, VerdictFormat format) : format_(format) {
  if (!path.empty() && path != "-") file_ = std::make_unique<AtomicFile>(path);
  if (format_ == VerdictFormat::kCsv) buffer_ = "index,source,score,verdict\n";
}

VerdictWriter::~VerdictWriter() = default;

void VerdictWriter::scored(std::int64_t index, const std::string& source, double score,
                           bool accepted) {
  const char* verdict = accepted ? "in" : "out";
  if (format_ == VerdictFormat::kCsv) {
    buffer_ += std::to_string(index) + "," + csv_field(source) + "," + format_score(score) + "," +
               verdict + "\n";
  } else {
    nlohmann::ordered_json line = {
        {"index", index},
        {"source", source},
        {"score", std::isfinite(score) ? nlohmann::ordered_json(score) : nlohmann::ordered_json()},
        {"verdict", verdict}};
    buffer_ += line.dump() + "\n";
  }
  if (buffer_.size() > kFlushBytes) flush();
}

void VerdictWriter::unscored(std::int64_t index, const std::string& source,
                             const std::string& verdict, const std::string& reason) {
  if (format_ == VerdictFormat::kCsv) {
    buffer_ += std::to_string(index) + "," + csv_field(source) + ",," + verdict + "\n";
  } else {
    nlohmann::ordered_json line = {{"index", index},
                                   {"source", source},
                                   {"score", nullptr},
                                   {"verdict", verdict},
                                   {"reason", reason}};
    buffer_ += line.dump() + "\n";
  }
  if (buffer_.size() > kFlushBytes) flush();
}

void VerdictWriter::flush() {
  if (file_) {
    file_->write(buffer_);
  } else {
    const std::size_t written = std::fwrite(buffer_.data(), 1, buffer_.size(), stdout);
    OODFLOW_CHECK(written == buffer_.size() && std::fflush(stdout) == 0,
                  "cannot write the verdicts to stdout: " << std::strerror(errno));
  }
  buffer_.clear();
}

void VerdictWriter::finish() {
  flush();
  if (file_) file_->commit();
}

}  // namespace oodflow::io
