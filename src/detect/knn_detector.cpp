// KNN: -||z - z_(k)|| for the L2-normalised feature z and its k-th nearest L2-normalised
// training feature, k = 50 (Sun et al., "Out-of-Distribution Detection with Deep Nearest
// Neighbors", ICML 2022). The training features are the detector's parameters; the search
// is faiss's, exact by default or through an IVF index (detect/knn.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "detectors.h"
#include "oodflow/core/defaults.h"
#include "oodflow/core/error.h"
#include "oodflow/core/sampling.h"
#include "oodflow/detect/knn.h"
#include "oodflow/io/safetensors.h"

namespace oodflow::detect {
namespace {

// Scales rows to unit length in place; a zero row has no direction and is an error naming
// it (row i is sample index[i] of `source`, or first + i without an index).
void normalise_rows(float* rows, std::int64_t n, std::int64_t dim, const std::string& source,
                    std::int64_t first, const std::int64_t* index = nullptr) {
  for (std::int64_t i = 0; i < n; ++i) {
    float* row = rows + i * dim;
    double norm = 0;
    for (std::int64_t d = 0; d < dim; ++d) norm += double{row[d]} * row[d];
    norm = std::sqrt(norm);
    OODFLOW_CHECK(norm > 0 && std::isfinite(norm),
                  "'" << source << "' sample " << (index != nullptr ? index[i] : first + i)
                      << ": feature vector has zero or non-finite norm, cannot L2-normalise it");
    for (std::int64_t d = 0; d < dim; ++d) row[d] = static_cast<float>(row[d] / norm);
  }
}

std::vector<float> l2_normalised(const FeatureSet& data) {
  std::vector<float> out(data.features);
  normalise_rows(out.data(), data.rows, data.dim, data.source, 0);
  return out;
}

void check_k(std::int64_t k, std::int64_t rows, const std::string& source) {
  OODFLOW_CHECK(k >= 1 && k <= rows, "knn: k = " << k << " needs at least that many training "
                                                 << "samples; '" << source << "' has " << rows);
}

// The automatic number of IVF lists: 4 sqrt(N), faiss's rule of thumb for a flat-coded
// IVF, with at least 39 training rows per list (fewer makes k-means centroids unreliable).
std::int64_t automatic_nlist(std::int64_t rows) {
  const auto by_size = static_cast<std::int64_t>(std::llround(4 * std::sqrt(double(rows))));
  return std::max<std::int64_t>(1, std::min(by_size, rows / 39));
}

// Unit rows of the training set by row number, from memory or from the feature file's map.
using GatherFn = std::function<void(const std::int64_t* rows, std::int64_t n, float* out)>;

class KnnDetector : public Detector {
 public:
  explicit KnnDetector(const DetectorOptions& o)
      : k_(o.k),
        block_size_(o.block_size),
        index_(o.knn_index),
        nlist_(o.nlist),
        nprobe_(o.nprobe) {}

  std::string name() const override { return "knn"; }
  std::string label() const override {
    if (index_ != "ivf") return name();
    return fmt_label();
  }
  // The parameters are the training set itself: streamed from the feature file's map into
  // a scratch file in chunks and mapped back, so memory stays flat whatever the set's size.
  Needs needs() const override {
    Needs n;
    n.streamed_fit = true;
    return n;
  }

  void fit(const io::FeatureFile& train, const std::vector<std::int64_t>& rows,
           const FitContext& context) override {
    OODFLOW_CHECK(!context.scratch.empty(), "internal: knn's streamed fit needs a scratch file");
    const auto count = static_cast<std::int64_t>(rows.size());
    check_k(k_, count, train.path());
    dim_ = train.dim();
    const GatherFn gather = [&](const std::int64_t* r, std::int64_t n, float* out) {
      train.gather_rows(r, n, out);
      normalise_rows(out, n, dim_, train.path(), 0, r);
    };
    std::vector<std::int64_t> order = rows;
    if (index_ == "ivf") order = build_ivf(gather, rows, context.seed, train.path());
    io::TensorSpec bank{"bank", io::DType::F32, {count, dim_}, nullptr, {}};
    bank.stream = [&](const std::function<void(const void*, std::size_t)>& sink) {
      std::vector<float> chunk(static_cast<std::size_t>(kStreamChunkRows * dim_));
      for (std::int64_t begin = 0; begin < count; begin += kStreamChunkRows) {
        const std::int64_t n = std::min(kStreamChunkRows, count - begin);
        gather(order.data() + begin, n, chunk.data());
        sink(chunk.data(), static_cast<std::size_t>(n * dim_) * sizeof(float));
      }
    };
    io::write_safetensors(context.scratch, {bank}, {});
    const auto file = std::make_shared<const io::SafetensorsFile>(context.scratch);
    const io::TensorView& view = file->view().tensors.at("bank");
    use_bank(reinterpret_cast<const float*>(view.data), view.shape[0], file);
    if (index_ == "ivf") {
      measure_recall(
          gather,
          context.held_out != nullptr && !context.held_out->empty() ? *context.held_out : rows,
          context.seed);
    }
  }

  void fit(const FeatureSet& train, const FitContext& context) override {
    check_k(k_, train.rows, train.source);
    dim_ = train.dim;
    const std::vector<float> unit = l2_normalised(train);
    const GatherFn gather = [&](const std::int64_t* r, std::int64_t n, float* out) {
      for (std::int64_t i = 0; i < n; ++i) {
        std::copy_n(unit.data() + r[i] * dim_, dim_, out + i * dim_);
      }
    };
    std::vector<std::int64_t> order(static_cast<std::size_t>(train.rows));
    std::iota(order.begin(), order.end(), 0);
    const std::vector<std::int64_t> all = order;
    if (index_ == "ivf") order = build_ivf(gather, all, context.seed, train.source);
    auto storage = std::make_shared<std::vector<float>>(unit.size());
    gather(order.data(), train.rows, storage->data());
    use_bank(storage->data(), train.rows, storage);
    if (index_ == "ivf") measure_recall(gather, all, context.seed);
  }

  std::vector<double> score(const FeatureSet& data) const override {
    require_dim(data, dim_, name());
    const std::vector<float> queries = l2_normalised(data);
    KnnResult r = searcher_
                      ? searcher_->search(queries.data(), data.rows, k_, nprobe_)
                      : knn_search(bank_, rows_, queries.data(), data.rows, dim_, k_, block_size_);
    if (searcher_) exact_where_short(queries, &r);
    std::vector<double> out(static_cast<std::size_t>(data.rows));
    for (std::int64_t i = 0; i < data.rows; ++i) {
      out[i] = knn_distance_score(r.similarity[static_cast<std::size_t>(i * k_ + k_ - 1)]);
    }
    return out;
  }

  std::int64_t feature_dim() const override { return dim_; }

  std::string fit_summary() const override {
    if (index_ != "ivf") return "";
    return nlohmann::json{{"ivf_recall", recall_json()}}.dump();
  }

  DetectorState state() const override {
    DetectorState s;
    DetectorState::Array bank;
    bank.shape = {rows_, dim_};
    bank.single_precision = true;
    bank.floats = bank_;
    bank.owner = owner_;
    s.arrays["bank"] = std::move(bank);
    nlohmann::json settings = {{"k", k_}, {"block_size", block_size_}};
    if (index_ == "ivf") {
      DetectorState::Array centroids;
      centroids.shape = {nlist_, dim_};
      centroids.single_precision = true;
      centroids.values.assign(centroids_.begin(), centroids_.end());
      s.arrays["ivf_centroids"] = std::move(centroids);
      DetectorState::Array offsets;  // row counts are exact in doubles up to 2^53
      offsets.shape = {nlist_ + 1};
      offsets.values.assign(offsets_.begin(), offsets_.end());
      s.arrays["ivf_list_offsets"] = std::move(offsets);
      settings["index"] = "ivf";
      settings["nlist"] = nlist_;
      settings["nprobe"] = nprobe_;
      settings["recall"] = recall_json();
      // An older oodflow would ignore the index and search the bank exactly: the same
      // scores, so version 1 still holds the file.
    }
    s.settings = settings.dump();
    return s;
  }

  void restore(const DetectorState& s) override {
    const auto it = s.arrays.find("bank");
    OODFLOW_CHECK(it != s.arrays.end() && it->second.shape.size() == 2,
                  "detector file lacks the knn training bank");
    dim_ = it->second.shape[1];
    if (it->second.floats != nullptr) {  // the detector file's memory map, not a copy
      use_bank(it->second.floats, it->second.shape[0], it->second.owner);
    } else {
      auto storage =
          std::make_shared<std::vector<float>>(it->second.values.begin(), it->second.values.end());
      use_bank(storage->data(), it->second.shape[0], storage);
    }
    const auto j = nlohmann::json::parse(s.settings);
    k_ = j.at("k").get<std::int64_t>();
    block_size_ = j.at("block_size").get<std::int64_t>();
    index_ = j.value("index", std::string("flat"));
    if (index_ != "ivf") return;
    nlist_ = j.at("nlist").get<std::int64_t>();
    nprobe_ = j.at("nprobe").get<std::int64_t>();
    const nlohmann::json& rec = j.at("recall");
    recall_.queries = rec.at("queries").get<std::int64_t>();
    recall_.recall_at_k = rec.at("recall_at_k").get<double>();
    recall_.kth_exact = rec.at("kth_neighbour_exact").get<double>();
    recall_.max_score_error = rec.at("max_score_error").get<double>();
    recall_.mean_score_error = rec.at("mean_score_error").get<double>();
    const auto c = s.arrays.find("ivf_centroids");
    const auto o = s.arrays.find("ivf_list_offsets");
    OODFLOW_CHECK(c != s.arrays.end() && o != s.arrays.end() &&
                      c->second.shape == std::vector<std::int64_t>({nlist_, dim_}) &&
                      o->second.shape == std::vector<std::int64_t>({nlist_ + 1}),
                  "detector file of an IVF knn lacks its centroids [" << nlist_ << ", " << dim_
                                                                      << "] or list offsets");
    centroids_ = c->second.floats != nullptr
                     ? std::vector<float>(c->second.floats, c->second.floats + nlist_ * dim_)
                     : std::vector<float>(c->second.values.begin(), c->second.values.end());
    offsets_.assign(o->second.values.begin(), o->second.values.end());
    OODFLOW_CHECK(offsets_.back() == rows_, "detector file of an IVF knn: its lists hold "
                                                << offsets_.back() << " rows, its bank " << rows_);
    make_searcher();
  }

 private:
  std::string fmt_label() const {
    if (recall_.queries == 0) return "knn (IVF)";  // not fitted yet: no recall to show
    std::ostringstream s;
    s << "knn (IVF " << nlist_ << "/" << nprobe_ << ", recall@" << k_ << " " << std::fixed
      << std::setprecision(3) << recall_.recall_at_k << ")";
    return s.str();
  }

  nlohmann::json recall_json() const {
    return {{"queries", recall_.queries},
            {"recall_at_k", recall_.recall_at_k},
            {"kth_neighbour_exact", recall_.kth_exact},
            {"max_score_error", recall_.max_score_error},
            {"mean_score_error", recall_.mean_score_error},
            {"nprobe", nprobe_}};
  }

  void use_bank(const float* bank, std::int64_t rows, std::shared_ptr<const void> owner) {
    bank_ = bank;
    rows_ = rows;
    owner_ = std::move(owner);
    if (index_ == "ivf" && !offsets_.empty()) make_searcher();
  }

  void make_searcher() {
    searcher_ = std::make_shared<IvfSearcher>(centroids_.data(), nlist_, bank_, offsets_, dim_);
  }

  // `n` of `rows` picked by (seed, stream), in ascending order, as unit rows [n, dim_].
  std::vector<float> sample_unit_rows(const GatherFn& gather, const std::vector<std::int64_t>& rows,
                                      std::int64_t n, std::uint64_t seed,
                                      std::int64_t stream) const {
    std::vector<std::int64_t> pick =
        shuffled_order(static_cast<std::int64_t>(rows.size()), seed, stream);
    pick.resize(static_cast<std::size_t>(n));
    std::sort(pick.begin(), pick.end());
    for (auto& r : pick) r = rows[static_cast<std::size_t>(r)];
    std::vector<float> out(static_cast<std::size_t>(n * dim_));
    gather(pick.data(), n, out.data());
    return out;
  }

  // Trains the coarse quantizer on a seeded sample of the rows, assigns every row to its
  // list and returns the rows in list order (the order the bank is stored in).
  std::vector<std::int64_t> build_ivf(const GatherFn& gather, const std::vector<std::int64_t>& rows,
                                      std::uint64_t seed, const std::string& source) {
    const auto count = static_cast<std::int64_t>(rows.size());
    if (nlist_ == 0) nlist_ = automatic_nlist(count);
    OODFLOW_CHECK(nlist_ <= count, "knn: --nlist " << nlist_ << " is more lists than the " << count
                                                   << " training samples of '" << source << "'");
    if (nprobe_ == 0) nprobe_ = std::min<std::int64_t>(nlist_, kKnnDefaultNprobe);
    nprobe_ = std::min(nprobe_, nlist_);
    // k-means needs a sample, not every row: kKnnIvfTrainPerList rows per list at most.
    const std::int64_t sample_rows = std::min(count, nlist_ * kKnnIvfTrainPerList);
    std::vector<float> data = sample_unit_rows(gather, rows, sample_rows, seed, /*stream=*/0);
    spdlog::info("knn: IVF with {} lists, k-means on {} of {} rows", nlist_, sample_rows, count);
    centroids_ = train_ivf_centroids(data.data(), sample_rows, dim_, nlist_, seed);
    data = std::vector<float>();

    std::vector<std::int64_t> list_of(static_cast<std::size_t>(count));
    std::vector<float> chunk(static_cast<std::size_t>(kStreamChunkRows * dim_));
    for (std::int64_t begin = 0; begin < count; begin += kStreamChunkRows) {
      const std::int64_t n = std::min(kStreamChunkRows, count - begin);
      gather(rows.data() + begin, n, chunk.data());
      const auto lists = assign_ivf_lists(centroids_.data(), nlist_, chunk.data(), n, dim_);
      std::copy(lists.begin(), lists.end(), list_of.begin() + begin);
    }
    IvfLayout layout = ivf_layout(list_of, nlist_);
    offsets_ = std::move(layout.offsets);
    for (auto& r : layout.order) r = rows[static_cast<std::size_t>(r)];
    return std::move(layout.order);
  }

  // The recall of the IVF search against the exact one on up to kKnnRecallQueries rows
  // (held-out ID rows when the fit has them), recorded in the model file.
  void measure_recall(const GatherFn& gather, const std::vector<std::int64_t>& candidates,
                      std::uint64_t seed) {
    const std::int64_t n =
        std::min(static_cast<std::int64_t>(candidates.size()), kKnnRecallQueries);
    const std::vector<float> queries = sample_unit_rows(gather, candidates, n, seed, 1);
    const KnnResult exact = knn_search(bank_, rows_, queries.data(), n, dim_, k_, block_size_);
    KnnResult approx = searcher_->search(queries.data(), n, k_, nprobe_);
    exact_where_short(queries, &approx);  // as score() does: the recall of the scores
    recall_ = compare_knn(approx, exact, k_);
    spdlog::info(
        "knn: IVF recall@{} {:.4f} on {} held-out rows (nprobe {} of {} lists); the "
        "k-th neighbour exact for {:.1f}% of them, largest score error {:.3g}",
        k_, recall_.recall_at_k, recall_.queries, nprobe_, nlist_, 100 * recall_.kth_exact,
        recall_.max_score_error);
  }

  // Queries whose probed lists held fewer than k rows are searched exactly: never a score
  // from a partial neighbour list.
  void exact_where_short(const std::vector<float>& queries, KnnResult* r) const {
    const std::int64_t q = static_cast<std::int64_t>(r->similarity.size()) / k_;
    for (std::int64_t i = 0; i < q; ++i) {
      if (r->index[static_cast<std::size_t>(i * k_ + k_ - 1)] >= 0) continue;
      const KnnResult one =
          knn_search(bank_, rows_, queries.data() + i * dim_, 1, dim_, k_, block_size_);
      std::copy(one.similarity.begin(), one.similarity.end(), r->similarity.begin() + i * k_);
      std::copy(one.index.begin(), one.index.end(), r->index.begin() + i * k_);
    }
  }

  std::int64_t k_;
  std::int64_t block_size_;
  std::string index_;  // flat (exact) or ivf
  std::int64_t nlist_;
  std::int64_t nprobe_;
  // [rows_, dim_] unit rows (in IVF list order for ivf): fitted here or mapped from the file.
  const float* bank_ = nullptr;
  std::shared_ptr<const void> owner_;
  std::int64_t rows_ = 0;
  std::int64_t dim_ = 0;
  std::vector<float> centroids_;       // ivf: [nlist_, dim_]
  std::vector<std::int64_t> offsets_;  // ivf: [nlist_ + 1], list l = bank rows [o_l, o_l+1)
  std::shared_ptr<IvfSearcher> searcher_;
  KnnRecall recall_;
};

}  // namespace

std::unique_ptr<Detector> make_knn_detector(const DetectorOptions& options) {
  return std::make_unique<KnnDetector>(options);
}

}  // namespace oodflow::detect
