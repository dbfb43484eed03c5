#include "oodflow/pipeline/train_command.h"

#include <algorithm>
#include <cmath>

#include "oodflow/core/error.h"
#include "oodflow/flow/flow_config.h"
#include "oodflow/pipeline/fit_command.h"

namespace oodflow::pipeline {

FitOptions fit_options(const TrainOptions& o) {
  FitOptions f;
  f.detector = o.arch;
  f.command = "train";
  f.features = o.features;
  f.out = o.out;
  f.val_fraction = o.val_fraction;
  f.seed = o.seed;
  f.threads = o.threads;
  f.options.flow = o.flow;
  return f;
}

void validate(const TrainOptions& o) {
  as_usage_error([&] {
    const auto& archs = flow::flow_arch_names();
    OODFLOW_CHECK(std::find(archs.begin(), archs.end(), o.arch) != archs.end(),
                  "--arch must be glow or realnvp, got '" << o.arch << "'");
  });
  validate(fit_options(o));
}

flow::TrainSummary run_train(const TrainOptions& o) {
  validate(o);
  return flow::summary_from_json_text(run_fit(fit_options(o)));
}

}  // namespace oodflow::pipeline
