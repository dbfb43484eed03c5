// KNN search benchmark: oodflow's exact search (faiss's inner-product routine over blocks of
// the bank, detect/knn.h) against, in the same process and with the same threads, faiss's
// own IndexFlatIP (the bank copied into the index), the hand-written search oodflow had
// before (LibTorch matrix products + a running top-k per block), the compute limit (2 N Q D
// flops at the measured GEMM peak), and faiss IVF at several nprobe with its recall.
//
//   oodflow_bench_knn [--bank 50000] [--queries 10000] [--dim 512] [--k 50] [--threads 0]
//                     [--nprobe 8,32,128]
#include <faiss/IndexFlat.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_common.h"
#include "oodflow/core/threads.h"
#include "oodflow/data/synthetic.h"
#include "oodflow/detect/knn.h"

namespace {

using oodflow::bench::seconds_since;
using Clock = std::chrono::steady_clock;

std::vector<float> unit_rows(std::int64_t n, std::int64_t dim, std::uint64_t seed) {
  oodflow::data::MixtureSpec spec;
  spec.dim = dim;
  spec.components = 10;
  auto m = oodflow::data::sample_mixture(spec, n, seed);
  for (std::int64_t i = 0; i < n; ++i) {
    double norm = 0;
    for (std::int64_t d = 0; d < dim; ++d)
      norm += double{m.values[i * dim + d]} * m.values[i * dim + d];
    for (std::int64_t d = 0; d < dim; ++d)
      m.values[i * dim + d] /= static_cast<float>(std::sqrt(norm));
  }
  return m.values;
}

// oodflow's search before faiss: block of the bank x all queries by LibTorch, running top-k.
std::vector<float> torch_blocked_kth(const std::vector<float>& bank, std::int64_t n,
                                     const std::vector<float>& queries, std::int64_t q,
                                     std::int64_t dim, std::int64_t k, std::int64_t block) {
  torch::NoGradGuard no_grad;
  const torch::Tensor qt = torch::from_blob(const_cast<float*>(queries.data()), {q, dim});
  torch::Tensor best = torch::empty({q, 0});
  for (std::int64_t begin = 0; begin < n; begin += block) {
    const std::int64_t rows = std::min(block, n - begin);
    const torch::Tensor b =
        torch::from_blob(const_cast<float*>(bank.data() + begin * dim), {rows, dim});
    const torch::Tensor sim = torch::cat({best, torch::mm(qt, b.t())}, 1);
    best = std::get<0>(torch::topk(sim, std::min(k, sim.size(1)), 1));
  }
  const torch::Tensor kth = best.select(1, k - 1).contiguous();
  return {kth.data_ptr<float>(), kth.data_ptr<float>() + q};
}

double max_kth_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double out = 0;
  for (std::size_t i = 0; i < a.size(); ++i) out = std::max(out, double(std::abs(a[i] - b[i])));
  return out;
}

std::vector<float> kth_of(const oodflow::detect::KnnResult& r, std::int64_t k) {
  std::vector<float> out(r.similarity.size() / k);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = r.similarity[i * k + k - 1];
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t n = 50000, q = 10000, dim = 512, k = 50;
  int threads = oodflow::kDefaultThreads;
  std::vector<std::int64_t> nprobes = {8, 32, 128};
  CLI::App app{"KNN search benchmark: faiss's flat index, oodflow's exact search and IVF"};
  app.add_option("--bank", n, "Bank rows");
  app.add_option("--queries", q, "Query rows");
  app.add_option("--dim", dim, "Feature dimension");
  app.add_option("--k", k, "Neighbours");
  app.add_option("--threads", threads, "As oodflow's --threads (0 = every core)");
  app.add_option("--nprobe", nprobes, "IVF lists probed, comma-separated")->delimiter(',');
  CLI11_PARSE(app, argc, argv);
  oodflow::reexec_with_tuned_libraries(argv, false);  // the kernels oodflow itself runs
  oodflow::set_compute_threads(threads);
  oodflow::bench::print_threads();
  const double peak = oodflow::bench::gemm_peak_gflops(2048);
  const double limit = 2.0 * n * q * dim / (peak * 1e9);
  std::printf(
      "float32 GEMM peak %.1f GFLOP/s; bank %lld x %lld, %lld queries, k = %lld: "
      "compute limit %.3f s\n",
      peak, static_cast<long long>(n), static_cast<long long>(dim), static_cast<long long>(q),
      static_cast<long long>(k), limit);
  const std::vector<float> bank = unit_rows(n, dim, 1);
  const std::vector<float> queries = unit_rows(q, dim, 2);

  std::printf("%-44s %9s %9s %12s %10s\n", "search", "seconds", "of limit", "vs faiss", "recall@k");
  auto t0 = Clock::now();
  faiss::IndexFlatIP flat(dim);
  flat.add(n, bank.data());
  std::vector<float> fd(static_cast<std::size_t>(q * k));
  std::vector<faiss::Index::idx_t> fi(static_cast<std::size_t>(q * k));
  t0 = Clock::now();
  flat.search(q, queries.data(), k, fd.data(), fi.data());
  const double faiss_s = seconds_since(t0);
  oodflow::detect::KnnResult reference;
  reference.similarity = fd;
  reference.index.assign(fi.begin(), fi.end());
  const auto row = [&](const char* name, double s, double recall) {
    std::printf("%-44s %9.3f %9.2f %12.2f ", name, s, limit / s, s / faiss_s);
    // NaN: a search that keeps only the k-th similarities, compared by those below.
    std::isnan(recall) ? std::printf("%10s\n", "-") : std::printf("%10.4f\n", recall);
    std::fflush(stdout);
  };
  row("faiss IndexFlatIP (bank copied into it)", faiss_s, 1.0);

  t0 = Clock::now();
  const auto exact = oodflow::detect::knn_search(bank.data(), n, queries.data(), q, dim, k, 8192);
  const double ours_s = seconds_since(t0);
  row("oodflow exact (faiss routine, blocks 8192)", ours_s,
      oodflow::detect::compare_knn(exact, reference, k).recall_at_k);
  std::printf("  largest k-th similarity difference to faiss: %.2e\n",
              max_kth_difference(kth_of(exact, k), kth_of(reference, k)));

  t0 = Clock::now();
  const auto old_kth = torch_blocked_kth(bank, n, queries, q, dim, k, 8192);
  const double old_s = seconds_since(t0);
  row("previous hand-written (LibTorch, blocks 8192)", old_s, std::nan(""));
  std::printf("  largest k-th similarity difference to faiss: %.2e\n",
              max_kth_difference(old_kth, kth_of(reference, k)));

  const std::int64_t nlist = std::max<std::int64_t>(
      1, std::min<std::int64_t>(std::llround(4 * std::sqrt(double(n))), n / 39));
  t0 = Clock::now();
  const std::int64_t sample = std::min<std::int64_t>(n, 64 * nlist);
  const auto centroids = oodflow::detect::train_ivf_centroids(bank.data(), sample, dim, nlist, 0);
  const auto lists =
      oodflow::detect::assign_ivf_lists(centroids.data(), nlist, bank.data(), n, dim);
  const oodflow::detect::IvfLayout layout = oodflow::detect::ivf_layout(lists, nlist);
  std::vector<float> ordered(bank.size());
  for (std::size_t at = 0; at < layout.order.size(); ++at) {
    std::copy_n(bank.data() + layout.order[at] * dim, dim, ordered.data() + at * dim);
  }
  std::printf("IVF build (k-means on %lld rows into %lld lists, assignment): %.3f s\n",
              static_cast<long long>(sample), static_cast<long long>(nlist), seconds_since(t0));
  const oodflow::detect::IvfSearcher ivf(centroids.data(), nlist, ordered.data(), layout.offsets,
                                         dim);
  const auto ordered_exact =
      oodflow::detect::knn_search(ordered.data(), n, queries.data(), q, dim, k, 8192);
  for (const std::int64_t nprobe : nprobes) {
    t0 = Clock::now();
    const auto approx = ivf.search(queries.data(), q, k, nprobe);
    const double s = seconds_since(t0);
    const std::string name =
        "oodflow IVF, nprobe " + std::to_string(nprobe) + " of " + std::to_string(nlist);
    row(name.c_str(), s, oodflow::detect::compare_knn(approx, ordered_exact, k).recall_at_k);
  }
  return 0;
}
