#include "oodflow/pipeline/fit_command.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "oodflow/core/atomic_file.h"
#include "oodflow/core/error.h"
#include "oodflow/detect/feature_set.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::pipeline {

void validate(const FitOptions& o) {
  as_usage_error([&] {
    OODFLOW_CHECK(!o.features.empty(), "--features is required");
    OODFLOW_CHECK(!o.out.empty(), "--out is required");
    OODFLOW_CHECK(o.out != o.features, "--out must differ from --features");
    detect::make_detector(o.detector, o.options);  // the name, with the known ones listed
    OODFLOW_CHECK(o.options.k >= 1, "--k must be >= 1, got " << o.options.k);
    OODFLOW_CHECK(o.options.block_size >= 1,
                  "--block-size must be >= 1, got " << o.options.block_size);
    OODFLOW_CHECK(o.options.temperature > 0 && std::isfinite(o.options.temperature),
                  "--temperature must be > 0, got " << o.options.temperature);
    OODFLOW_CHECK(o.options.shrinkage >= 0 && o.options.shrinkage <= 1,
                  "--shrinkage must be in [0, 1], got " << o.options.shrinkage);
  });
}

void run_fit(const FitOptions& o) {
  validate(o);
  check_writable(o.out);
  const io::FeatureFile file = io::FeatureFile::open(o.features);
  spdlog::info("fit: {} detector on {} samples of dimension {} from '{}'", o.detector, file.rows(),
               file.dim(), o.features);
  const detect::FeatureSet train = detect::FeatureSet::load(file);
  auto detector = detect::make_detector(o.detector, o.options);
  detector->fit(train);
  const std::string training = nlohmann::json{
      {"features", o.features},
      {"features_sha256", file.sha256()},
      {"count", file.rows()},
      {"dim", file.dim()}}.dump();
  detect::save_detector(o.out, *detector,
                        {{"training", training}, {"oodflow_version", OODFLOW_VERSION}});
  spdlog::info("fit: wrote '{}'", o.out);
}

}  // namespace oodflow::pipeline
