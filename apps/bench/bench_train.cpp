// Training-speed benchmark: one epoch of the reference flow on synthetic features, reported
// as samples/s and as ratios to what was measured in the same process with the same threads
// (machines here are shared and noisy, so only ratios measured side by side mean something):
// this machine's float32 GEMM peak, and the step's own matrix products timed alone at their
// shapes (a batch of 250 rows does not reach the peak of a 2048^3 product).
//
//   oodflow_bench_train [--dims 512,2048] [--samples 20000] [--blocks 10] [--batch 250]
//                       [--threads 1] [--arch glow]    (--help lists the options)
#include <torch/torch.h>

#include <unistd.h>
#include <CLI/CLI.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.h"
#include "oodflow/core/allocator.h"
#include "oodflow/core/normalizer.h"
#include "oodflow/core/progress.h"
#include "oodflow/core/threads.h"
#include "oodflow/data/synthetic.h"
#include "oodflow/flow/trainer.h"
#include "oodflow/io/feature_file.h"

namespace {

using oodflow::bench::gemm_peak_gflops;

// The matrix products of one training step, per block: {rows, inner, cols} of each forward
// product (glow: the two triangular factors d x d; coupling: cond -> 2h, and two h -> trans);
// the backward adds, for each, the input gradient {rows, cols, inner} and the weight gradient
// {inner, rows, cols}.
std::vector<std::array<std::int64_t, 3>> forward_products(const std::string& arch, int64_t d,
                                                          int64_t h, int64_t batch) {
  const int64_t cond = (d + 1) / 2;
  const int64_t trans = d / 2;
  std::vector<std::array<std::int64_t, 3>> out = {
      {batch, cond, 2 * h}, {batch, h, trans}, {batch, h, trans}};
  if (arch == "glow") {
    out.push_back({batch, d, d});
    out.push_back({batch, d, d});
  }
  return out;
}

// Dense FLOPs of one training step per sample (forward, input and weight gradients).
double train_flops_per_sample(const std::string& arch, int64_t d, int64_t h, int64_t blocks) {
  double flops = 0;
  for (const auto& [m, k, n] : forward_products(arch, d, h, 1)) flops += 2.0 * m * k * n;
  return 3.0 * blocks * flops;
}

// The count of useful FLOPs: the triangular factors count half (the zero triangle
// multiplies nothing), so for glow at hidden = d, 180 d^2 per sample at K = 10.
double useful_flops_per_sample(const std::string& arch, int64_t d, int64_t h, int64_t blocks) {
  const double triangular = arch == "glow" ? 3.0 * blocks * 2 * (2.0 * d * d) * 0.5 : 0.0;
  return train_flops_per_sample(arch, d, h, blocks) - triangular;
}

// Seconds of the matrix products of one training step alone, each timed at its shape on its
// own (best of 3 runs of about 0.1 s): what the step would cost if nothing else did.
double gemm_seconds_per_step(const std::string& arch, int64_t d, int64_t h, int64_t batch,
                             int64_t blocks) {
  auto best_seconds = [](int64_t m, int64_t k, int64_t n) {
    const torch::Tensor a = torch::randn({m, k});
    const torch::Tensor b = torch::randn({k, n});
    torch::Tensor c = torch::mm(a, b);  // warm-up
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      int64_t calls = 0;
      const auto t0 = std::chrono::steady_clock::now();
      do {
        c = torch::mm(a, b);
        ++calls;
      } while (oodflow::bench::seconds_since(t0) < 0.1);
      best = std::min(best, oodflow::bench::seconds_since(t0) / static_cast<double>(calls));
    }
    return best;
  };
  double seconds = 0;
  for (const auto& [m, k, n] : forward_products(arch, d, h, batch)) {
    seconds += best_seconds(m, k, n) + best_seconds(m, n, k) + best_seconds(k, m, n);
  }
  return seconds * static_cast<double>(blocks);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> dims = {512, 2048};
  int64_t samples = 20000;
  int64_t blocks = 10;
  int64_t batch = 250;
  int threads = oodflow::kDefaultThreads;
  int blas_threads = 0;  // 0: same as --threads
  std::string arch = "glow";
  CLI::App app{"Training-speed benchmark: one epoch of the reference flow on synthetic features"};
  app.add_option("--dims", dims, "Feature dimensions, comma-separated")->delimiter(',');
  app.add_option("--samples", samples, "Training rows");
  app.add_option("--blocks", blocks, "Flow blocks K");
  app.add_option("--batch", batch, "Mini-batch size");
  app.add_option("--threads", threads, "As oodflow's --threads (0 = every core)");
  app.add_option("--blas-threads", blas_threads, "OpenBLAS threads alone (0 = --threads)");
  app.add_option("--arch", arch, "glow or realnvp");
  CLI11_PARSE(app, argc, argv);
  oodflow::reexec_with_tuned_libraries(argv, false);  // the kernels oodflow itself runs
  oodflow::set_compute_threads(threads);
  if (blas_threads > 0) oodflow::set_blas_threads(blas_threads);
  oodflow::Progress::set_default_mode(oodflow::ProgressMode::kNone);
  // The heap setting train_flow makes, before the peak and the products timed alone too:
  // every figure with the same allocator.
  (void)oodflow::keep_large_allocations_in_heap();
  oodflow::bench::print_threads();
  const double peak = gemm_peak_gflops(2048);
  std::printf("float32 GEMM peak (2048^3, best of 5): %.1f GFLOP/s\n", peak);
  std::printf("%-6s %6s %7s %6s %10s %8s %9s %12s %10s %8s %9s\n", "arch", "d", "N", "steps",
              "samples/s", "of peak", "of limit", "GEMM-only/s", "of GEMMs", "seconds", "1st step");
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
    // of peak: dense GFLOP/s over the GEMM peak; of limit: the useful FLOPs (the
    // compute limit = peak / useful FLOPs per sample); GEMM-only: samples/s if the step were
    // its matrix products alone, at their shapes; of GEMMs: the loop over that.
    const double dense = train_flops_per_sample(arch, d, d, blocks) * summary.samples_per_second;
    const double useful = useful_flops_per_sample(arch, d, d, blocks) * summary.samples_per_second;
    const double gemm_only =
        static_cast<double>(batch) / gemm_seconds_per_step(arch, d, d, batch, blocks);
    std::printf("%-6s %6lld %7lld %6lld %10.1f %8.2f %9.2f %12.1f %10.2f %8.1f %9.2f\n",
                arch.c_str(), static_cast<long long>(d), static_cast<long long>(samples),
                static_cast<long long>(summary.steps), summary.samples_per_second,
                dense / 1e9 / peak, useful / 1e9 / peak, gemm_only,
                summary.samples_per_second / gemm_only, summary.seconds,
                summary.first_step_seconds);
    std::fflush(stdout);
  }
  return 0;
}
