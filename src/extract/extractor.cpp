#include "oodflow/extract/extractor.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <opencv2/core.hpp>
#include <optional>
#include <system_error>
#include <thread>

#include "oodflow/core/progress.h"

namespace oodflow::extract {
namespace {

using Clock = std::chrono::steady_clock;

// Skipped images are all listed in the output's metadata; the log names the first few.
constexpr std::size_t kMaxSkipWarnings = 10;

struct PreparedImage {
  std::vector<float> pixels;  // [C, H, W]
  int height = 0;
  int width = 0;
  std::string error;  // non-empty when the image could not be read
};

struct PreparedBatch {
  std::vector<PreparedImage> images;
  std::exception_ptr failure;  // anything other than an unreadable image
};

// Decodes and preprocesses one image; unreadable images are recorded, not thrown.
void prepare_image(const ImageSource& source, const Preprocessing& p, std::int64_t index,
                   PreparedImage* image) {
  try {
    preprocess(source.load(index), p, &image->pixels, &image->height, &image->width);
  } catch (const ImageError& e) {
    image->error = e.what();
  } catch (const cv::Exception& e) {
    image->error = "'" + source.name(index) + "' cannot be preprocessed: " + e.err;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // e.g. out of memory: not skippable, but named
    throw Error("'" + source.name(index) + "': " + e.what());
  }
}

// Worker threads that prepare the images of batches 0..n-1 ahead of the consumer, at most
// `window` batches ahead. Workers take single images, not whole batches, so the first batch
// is ready after 1/workers of its decoding time and no worker idles while another finishes
// a batch. The destructor stops and joins them, also when the consumer leaves with an
// exception.
class BatchPrefetcher {
 public:
  BatchPrefetcher(const ImageSource& source, const ExtractSettings& s, std::int64_t batches)
      : source_(source),
        settings_(s),
        batches_(batches),
        total_(s.end - s.begin),
        // The batch being consumed, the next one, and enough for every worker to hold an
        // image: a window that does not grow with --workers beyond what they can fill.
        window_(2 + (s.workers + s.batch_size - 1) / s.batch_size),
        slots_(static_cast<std::size_t>(window_)) {
    for (std::int64_t b = 0; b < std::min(window_, batches_); ++b) open_slot(b);
    try {
      for (int w = 0; w < s.workers; ++w) threads_.emplace_back([this] { work(); });
    } catch (const std::system_error& e) {
      stop();
      OODFLOW_FAIL("cannot start " << s.workers << " worker threads (" << e.what()
                                   << "); use fewer --workers");
    }
  }
  ~BatchPrefetcher() { stop(); }
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  PreparedBatch take(std::int64_t b) {
    Slot& slot = slot_of(b);
    if (threads_.empty()) {
      const auto count = static_cast<std::int64_t>(slot.batch.images.size());
      for (std::int64_t k = 0; k < count; ++k) prepare(b * settings_.batch_size + k);
    }
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return slot.remaining == 0; });
    PreparedBatch batch = std::move(slot.batch);
    if (b + window_ < batches_) open_slot(b + window_);
    space_.notify_all();
    return batch;
  }

 private:
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  struct Slot {
    PreparedBatch batch;
    std::int64_t remaining = 0;  // images not prepared yet
  };

  Slot& slot_of(std::int64_t b) { return slots_[static_cast<std::size_t>(b % window_)]; }

  void open_slot(std::int64_t b) {
    Slot& slot = slot_of(b);
    const std::int64_t count = std::min(settings_.batch_size, total_ - b * settings_.batch_size);
    slot.batch = PreparedBatch();
    slot.batch.images.resize(static_cast<std::size_t>(count));
    slot.remaining = count;
    open_images_ = std::min(total_, (b + 1) * settings_.batch_size);
  }

  // Prepares image `i` (counted from settings_.begin) into its slot.
  void prepare(std::int64_t i) {
    const std::int64_t b = i / settings_.batch_size;
    Slot& slot = slot_of(b);
    PreparedImage& image =
        slot.batch.images[static_cast<std::size_t>(i - b * settings_.batch_size)];
    std::exception_ptr failure;
    try {
      prepare_image(source_, settings_.preprocessing, settings_.begin + i, &image);
    } catch (...) {
      failure = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (failure && !slot.batch.failure) slot.batch.failure = failure;
    if (--slot.remaining == 0) ready_.notify_all();
  }

  void work() {
    for (;;) {
      std::int64_t i = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        space_.wait(lock, [&] { return stop_ || claimed_ < open_images_ || claimed_ >= total_; });
        if (stop_ || claimed_ >= total_) return;
        i = claimed_++;
      }
      prepare(i);
    }
  }

  const ImageSource& source_;
  const ExtractSettings& settings_;
  const std::int64_t batches_;
  const std::int64_t total_;
  const std::int64_t window_;
  std::vector<Slot> slots_;
  std::mutex mutex_;
  std::condition_variable space_;
  std::condition_variable ready_;
  std::int64_t open_images_ = 0;  // images of the open slots may be claimed
  std::int64_t claimed_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// NaN/inf outputs are an error naming the image, never a silent row.
template <typename T>
void check_finite(const std::vector<T>& values, std::int64_t width, const char* what,
                  const std::vector<std::int64_t>& kept, const ImageSource& source,
                  const Backbone& backbone) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    OODFLOW_CHECK(std::isfinite(values[i]),
                  "backbone '" << backbone.options().path << "' gave a non-finite " << what << " ("
                               << values[i] << ") for '"
                               << source.name(kept[i / static_cast<std::size_t>(width)]) << "'");
  }
}

// Runs the backbone on the batch's readable images and returns their rows; unreadable ones
// are recorded in `batch_out.skipped` and `summary` (or stop the run in strict mode).
FeatureBatch consume_batch(const ImageSource& source, Backbone& backbone, const ExtractSettings& s,
                           std::int64_t first, PreparedBatch& batch, ExtractionSummary* summary,
                           std::vector<float>* input) {
  if (batch.failure) std::rethrow_exception(batch.failure);
  FeatureBatch out;
  const int channels = s.preprocessing.channels;
  for (std::size_t k = 0; k < batch.images.size(); ++k) {
    PreparedImage& image = batch.images[k];
    const std::int64_t index = first + static_cast<std::int64_t>(k);
    if (!image.error.empty()) {
      OODFLOW_CHECK(!s.strict, image.error << " (stopped by --strict)");
      if (summary->skipped.size() < kMaxSkipWarnings)
        spdlog::warn("unreadable image: {}", image.error);
      summary->skipped.push_back({source.name(index), image.error});
      out.skipped.push_back({index, summary->skipped.back()});
      continue;
    }
    if (summary->input_shape.empty()) summary->input_shape = {channels, image.height, image.width};
    OODFLOW_CHECK(image.height == summary->input_shape[1] && image.width == summary->input_shape[2],
                  "'" << source.name(index) << "' gives a " << image.height << "x" << image.width
                      << " input but earlier images gave " << summary->input_shape[1] << "x"
                      << summary->input_shape[2]
                      << "; set --crop (and --resize) so that every image has one size");
    if (out.indices.empty()) input->clear();
    input->insert(input->end(), image.pixels.begin(), image.pixels.end());
    out.indices.push_back(index);
  }
  if (out.indices.empty()) return out;
  const auto start = Clock::now();
  const auto rows = static_cast<std::int64_t>(out.indices.size());
  const int height = summary->input_shape[1];
  const int width = summary->input_shape[2];
  const BatchInput in{input->data(), rows, channels, height, width};
  std::optional<BackboneOutputs> plain;
  std::vector<AuxValues> aux;
  for (const AuxRequest& request : s.aux_scores) {
    AuxBatchScores scores = aux_score_kind(request.name).compute(backbone, in, request.settings);
    if (!plain && scores.outputs) plain = std::move(scores.outputs);
    OODFLOW_CHECK(static_cast<std::int64_t>(scores.values.size()) == rows,
                  "internal: " << scores.values.size() << " '" << request.name << "' scores for "
                               << rows << " images");
    aux.push_back({request.name, request.settings, std::move(scores.values)});
  }
  BackboneOutputs y =
      plain ? std::move(*plain) : backbone.run(input->data(), rows, channels, height, width);
  summary->backbone_seconds += std::chrono::duration<double>(Clock::now() - start).count();
  if (summary->rows == 0) {
    summary->dim = y.dim;
    summary->classes = y.classes;
  }
  OODFLOW_CHECK(y.dim == summary->dim && y.classes == summary->classes,
                "backbone '" << backbone.options().path << "' returned " << y.dim
                             << " features and " << y.classes << " logits for the batch from '"
                             << source.name(out.indices.front()) << "' but " << summary->dim
                             << " and " << summary->classes << " before");
  check_finite(y.features, y.dim, "feature", out.indices, source, backbone);
  check_finite(y.logits, y.classes, "logit", out.indices, source, backbone);
  for (const AuxValues& a : aux) {
    check_finite(a.values, 1, ("'" + a.name + "' score").c_str(), out.indices, source, backbone);
  }
  for (std::int64_t index : out.indices) {
    out.sources.push_back(source.name(index));
    if (source.has_labels()) out.labels.push_back(source.label(index));
  }
  out.rows = static_cast<std::int64_t>(out.indices.size());
  out.dim = y.dim;
  out.classes = y.classes;
  out.features = std::move(y.features);
  out.logits = std::move(y.logits);
  out.aux = std::move(aux);
  summary->rows += out.rows;
  return out;
}

}  // namespace

ExtractionSummary stream_features(const ImageSource& source, Backbone& backbone,
                                  const ExtractSettings& settings,
                                  const std::function<void(FeatureBatch&)>& sink) {
  ExtractSettings s = settings;
  if (s.end < 0) s.end = source.size();
  OODFLOW_CHECK(s.begin >= 0 && s.begin < s.end && s.end <= source.size() && s.batch_size > 0,
                "internal: extraction range [" << s.begin << ", " << s.end << ") of "
                                               << source.size() << " images");
  // OpenCV's own thread pool would compete with the workers and the backbone. The setting is
  // process-wide, so it is made once, here, before any worker starts.
  cv::setNumThreads(0);
  const auto start = Clock::now();
  const std::int64_t total = s.end - s.begin;
  const std::int64_t batches = (total + s.batch_size - 1) / s.batch_size;
  ExtractionSummary summary;
  std::vector<float> input;
  Progress progress("extract", total, "images");
  BatchPrefetcher prefetcher(source, s, batches);
  for (std::int64_t b = 0; b < batches; ++b) {
    const std::int64_t first = s.begin + b * s.batch_size;
    PreparedBatch prepared = prefetcher.take(b);
    FeatureBatch batch = consume_batch(source, backbone, s, first, prepared, &summary, &input);
    sink(batch);
    const std::int64_t done = std::min(total, (b + 1) * s.batch_size);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    progress.update(done, fmt::format("{:.0f} images/s", done / std::max(elapsed, 1e-9)));
  }
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  progress.finish(fmt::format("{:.0f} images/s", total / std::max(summary.seconds, 1e-9)));
  OODFLOW_CHECK(summary.rows > 0, "none of the " << total << " images could be read, e.g. "
                                                 << summary.skipped.front().reason);
  return summary;
}

}  // namespace oodflow::extract
