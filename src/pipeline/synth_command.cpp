#include "oodflow/pipeline/synth_command.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "oodflow/core/error.h"
#include "oodflow/data/synthetic.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::pipeline {
namespace {

std::vector<double> parse_shifts(const std::string& text) {
  std::vector<double> shifts;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string part = text.substr(start, end - start);
    char* stop = nullptr;
    const double v = std::strtod(part.c_str(), &stop);
    OODFLOW_CHECK(!part.empty() && *stop == '\0' && v > 0,
                  "--shifts: '" << part << "' is not a positive number");
    shifts.push_back(v);
    start = end + 1;
  }
  OODFLOW_CHECK(!shifts.empty(), "--shifts needs at least one value");
  return shifts;
}

void write_set(const std::string& path, const data::FeatureMatrix& m, const std::string& source) {
  io::FeatureFileContents c;
  c.rows = m.rows;
  c.dim = m.dim;
  c.features = m.values.data();
  c.labels = m.labels.data();
  c.metadata = {
      {"source", source}, {"backbone", "none (synthetic features)"}, {"preprocessing", "none"}};
  io::write_feature_file(path, c);
  spdlog::info("synth: wrote '{}' ({} x {})", path, m.rows, m.dim);
}

}  // namespace

void validate(const SynthOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.out_dir.empty(), "--out-dir is required");
    OODFLOW_CHECK(o.dim >= 2, "--dim must be >= 2, got " << o.dim);
    OODFLOW_CHECK(o.components >= 1, "--components must be >= 1, got " << o.components);
    OODFLOW_CHECK(o.train >= 1 && o.test >= 1, "--train and --test must be >= 1");
    parse_shifts(o.shifts);
  });
}

void run_synth(const SynthOptions& o) {
  validate(o);
  if (::mkdir(o.out_dir.c_str(), 0755) != 0) {
    OODFLOW_CHECK(errno == EEXIST, "cannot create '" << o.out_dir << "': " << std::strerror(errno));
  }
  data::MixtureSpec spec;
  spec.dim = o.dim;
  spec.components = o.components;
  spec.model_seed = o.seed + 1;
  const std::string mixture = "gaussian mixture, " + std::to_string(o.components) +
                              " components, seed " + std::to_string(o.seed);
  write_set(o.out_dir + "/id_train.safetensors",
            data::sample_mixture(spec, o.train, o.seed * 8 + 2), mixture);
  write_set(o.out_dir + "/id_test.safetensors", data::sample_mixture(spec, o.test, o.seed * 8 + 3),
            mixture);
  std::uint64_t stream = 4;
  for (double shift : parse_shifts(o.shifts)) {
    data::MixtureSpec shifted = spec;
    shifted.shift = shift;
    char name[64];
    std::snprintf(name, sizeof name, "/ood_shift%g.safetensors", shift);
    write_set(o.out_dir + name, data::sample_mixture(shifted, o.test, o.seed * 8 + stream++),
              mixture + ", means shifted by " + std::to_string(shift));
  }
}

}  // namespace oodflow::pipeline
