// Training-speed benchmark: one epoch of the reference flow on synthetic features, reported
// as samples/s and as achieved GFLOP/s relative to this machine's float32 GEMM peak measured
// in the same process with the same threads (machines here are shared and noisy, so only
// ratios measured side by side mean something).
//
//   oodflow_bench_train [--dims 512,2048] [--samples 20000] [--blocks 10] [--batch 250]
//                       [--threads 1] [--arch glow]
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.h"
#include "oodflow/core/normalizer.h"
#include "oodflow/core/progress.h"
#include "oodflow/core/threads.h"
#include "oodflow/data/synthetic.h"
#include "oodflow/flow/trainer.h"
#include "oodflow/io/feature_file.h"

namespace {

using oodflow::bench::gemm_peak_gflops;
using oodflow::bench::parse_list;

// Matrix-product FLOPs of one training step per sample: the forward GEMMs of each block
// (glow: two triangular factors d x d, coupling: d/2 -> 2h and two h -> d/2), times 3 for
// forward + backward (input and weight gradients).
double train_flops_per_sample(const std::string& arch, int64_t d, int64_t h, int64_t blocks) {
  const double cond = static_cast<double>((d + 1) / 2);
  const double trans = static_cast<double>(d / 2);
  const double coupling = 2.0 * cond * 2 * h + 2.0 * 2 * h * trans;
  const double mixing = arch == "glow" ? 2.0 * 2 * static_cast<double>(d) * d : 0.0;
  return 3.0 * blocks * (coupling + mixing);
}

}  // namespace

int main(int argc, char** argv) {
  oodflow::reexec_with_tuned_libraries(argv, false);  // the kernels oodflow itself runs
  std::vector<int64_t> dims = {512, 2048};
  int64_t samples = 20000;
  int64_t blocks = 10;
  int64_t batch = 250;
  int threads = oodflow::kDefaultThreads;
  int blas_threads = 0;  // 0: same as --threads
  std::string arch = "glow";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--dims")
      dims = parse_list(argv[i + 1]);
    else if (key == "--samples")
      samples = std::atoll(argv[i + 1]);
    else if (key == "--blocks")
      blocks = std::atoll(argv[i + 1]);
    else if (key == "--batch")
      batch = std::atoll(argv[i + 1]);
    else if (key == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (key == "--arch")
      arch = argv[i + 1];
    else if (key == "--blas-threads")
      blas_threads = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  oodflow::set_compute_threads(threads);
  if (blas_threads > 0) oodflow::set_blas_threads(blas_threads);
  oodflow::Progress::set_default_mode(oodflow::ProgressMode::kNone);
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  std::printf("threads: torch %d, openblas %d (%s kernels), OMP_WAIT_POLICY=%s\n",
              oodflow::torch_threads(), oodflow::blas_threads(), oodflow::blas_core().c_str(),
              wait ? wait : "(unset)");
  const double peak = gemm_peak_gflops(2048);
  std::printf("float32 GEMM peak (2048^3, best of 5): %.1f GFLOP/s\n", peak);
  std::printf("%-6s %6s %7s %6s %12s %10s %8s %9s\n", "arch", "d", "N", "steps", "samples/s",
              "GFLOP/s", "of peak", "seconds");
  for (int64_t d : dims) {
    oodflow::data::MixtureSpec spec;
    spec.dim = d;
    const auto m = oodflow::data::sample_mixture(spec, samples, 1);
    const std::string path = "/tmp/oodflow_bench_" + std::to_string(::getpid()) + ".safetensors";
    oodflow::io::FeatureFileContents c;
    c.rows = m.rows;
    c.dim = m.dim;
    c.features = m.values.data();
    oodflow::io::write_feature_file(path, c);
    const auto data = oodflow::io::FeatureFile::open(path);

    torch::manual_seed(0);
    oodflow::flow::FlowConfig config;
    config.arch = arch;
    config.dim = d;
    config.blocks = blocks;
    config.hidden = d;
    oodflow::flow::Flow flow(config);
    oodflow::flow::TrainSettings settings;
    settings.batch_size = batch;
    const auto summary = oodflow::flow::train_flow(
        flow, data, oodflow::Normalizer(oodflow::Normalization::kL2), settings);
    std::remove(path.c_str());
    const double gflops =
        train_flops_per_sample(arch, d, d, blocks) * summary.samples_per_second / 1e9;
    std::printf("%-6s %6lld %7lld %6lld %12.1f %10.1f %8.2f %9.1f\n", arch.c_str(),
                static_cast<long long>(d), static_cast<long long>(samples),
                static_cast<long long>(summary.steps), summary.samples_per_second, gflops,
                gflops / peak, summary.seconds);
    std::fflush(stdout);
  }
  return 0;
}
