#include "oodflow/plot/charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <tuple>

#include "oodflow/core/error.h"
#include "oodflow/plot/svg.h"

namespace oodflow::plot {
namespace {

constexpr double kWidth = 480;
constexpr double kHeight = 320;
constexpr double kLeft = 58;
constexpr double kRight = 14;
constexpr double kTop = 30;
constexpr double kBottom = 48;
constexpr const char* kAxisColour = "#444444";
constexpr const char* kGridColour = "#e6e6e6";

std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * v);
  return buf;
}

// Maps data coordinates into the plot area of a chart.
struct Frame {
  double x_lo, x_hi, y_lo, y_hi;
  double px(double x) const {
    return kLeft + (x - x_lo) / (x_hi - x_lo) * (kWidth - kLeft - kRight);
  }
  double py(double y) const {
    return kHeight - kBottom - (y - y_lo) / (y_hi - y_lo) * (kHeight - kTop - kBottom);
  }
};

// Grid, ticks, tick labels, axis labels and the title.
void draw_axes(Svg& svg, const Frame& f, const std::vector<double>& x_ticks,
               const std::vector<double>& y_ticks, const std::string& x_label,
               const std::string& y_label, const std::string& title,
               const std::function<std::string(double)>& y_format) {
  const std::string grid = std::string("stroke=\"") + kGridColour + "\" stroke-width=\"1\"";
  const std::string axis = std::string("stroke=\"") + kAxisColour + "\" stroke-width=\"1\"";
  const std::string label = std::string("fill=\"") + kAxisColour + "\"";
  for (double t : x_ticks) {
    svg.line(f.px(t), f.py(f.y_lo), f.px(t), f.py(f.y_hi), grid);
    svg.line(f.px(t), f.py(f.y_lo), f.px(t), f.py(f.y_lo) + 4, axis);
    svg.text(f.px(t), f.py(f.y_lo) + 16, short_number(t), label + " text-anchor=\"middle\"");
  }
  for (double t : y_ticks) {
    svg.line(f.px(f.x_lo), f.py(t), f.px(f.x_hi), f.py(t), grid);
    svg.line(f.px(f.x_lo) - 4, f.py(t), f.px(f.x_lo), f.py(t), axis);
    svg.text(f.px(f.x_lo) - 7, f.py(t) + 4, y_format(t), label + " text-anchor=\"end\"");
  }
  svg.rect(kLeft, kTop, kWidth - kLeft - kRight, kHeight - kTop - kBottom, axis + " fill=\"none\"");
  svg.text((kLeft + kWidth - kRight) / 2, kHeight - 12, x_label,
           label + " text-anchor=\"middle\" font-size=\"12\"");
  svg.text(14, (kTop + kHeight - kBottom) / 2, y_label,
           label + " text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 " +
               short_number((kTop + kHeight - kBottom) / 2) + ")\"");
  svg.text(kLeft, 18, title, "fill=\"#111111\" font-size=\"13\" font-weight=\"bold\"");
}

double quantile_of_sorted(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(position);
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - static_cast<double>(below));
}

std::vector<double> sorted_finite(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v) {
    if (std::isfinite(x)) out.push_back(x);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

const std::string& series_colour(std::size_t i) {
  static const std::vector<std::string> palette = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                                   "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                                                   "#9c755f", "#bab0ac"};
  return palette[i % palette.size()];
}

Histogram histogram(const std::vector<double>& scores, double lo, double hi, int bins) {
  OODFLOW_CHECK(bins >= 1 && lo < hi, "internal: histogram over [" << lo << ", " << hi << "]");
  Histogram h;
  h.lo = lo;
  h.hi = hi;
  h.counts.assign(static_cast<std::size_t>(bins), 0);
  for (double s : scores) {
    if (!std::isfinite(s)) {
      ++h.nonfinite;
      continue;
    }
    ++h.finite;
    h.below += s < lo;
    h.above += s > hi;
    const double position = std::floor((s - lo) / (hi - lo) * bins);
    const auto bin = static_cast<std::int64_t>(std::clamp(position, 0.0, bins - 1.0));
    ++h.counts[static_cast<std::size_t>(bin)];
  }
  return h;
}

std::pair<double, double> display_range(const std::vector<double>& a, const std::vector<double>& b,
                                        double mark) {
  double lo = INFINITY;
  double hi = -INFINITY;
  for (const auto* set : {&a, &b}) {
    const std::vector<double> sorted = sorted_finite(*set);
    if (sorted.empty()) continue;
    lo = std::min(lo, quantile_of_sorted(sorted, 0.005));
    hi = std::max(hi, quantile_of_sorted(sorted, 0.995));
  }
  if (std::isfinite(mark)) {
    lo = std::min(lo, mark);
    hi = std::max(hi, mark);
  }
  if (!std::isfinite(lo)) return {0, 1};
  const double pad = hi > lo ? 0.02 * (hi - lo) : 0.5 + 0.01 * std::abs(lo);
  return {lo - pad, hi + pad};
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  const double raw = (hi - lo) / std::max(1, target);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  // The nearest of 1, 2, 5, 10 times the power (Heckbert's "nice numbers", Graphics Gems).
  const double fraction = raw / power;
  const double step = power * (fraction < 1.5 ? 1.0
                               : fraction < 3 ? 2.0
                               : fraction < 7 ? 5.0
                                              : 10.0);
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) {
    ticks.push_back(std::abs(t) < 1e-9 * step ? 0.0 : t);
  }
  return ticks;
}

Svg histogram_svg(const HistogramChart& c) {
  const Histogram& id = *c.id;
  const Histogram& ood = *c.ood;
  OODFLOW_CHECK(id.lo == ood.lo && id.hi == ood.hi && id.counts.size() == ood.counts.size() &&
                    !id.counts.empty(),
                "internal: the histograms of a chart need the same bins");
  const double lo = id.lo;
  const double hi = id.hi;
  const std::size_t bins = id.counts.size();
  auto share = [](const Histogram& h, std::size_t i) {
    return h.finite > 0 ? static_cast<double>(h.counts[i]) / static_cast<double>(h.finite) : 0.0;
  };
  double top = 0;
  for (std::size_t i = 0; i < bins; ++i) top = std::max({top, share(id, i), share(ood, i)});
  // Headroom above the tallest bar for the legend and the threshold's label.
  const double y_max = top > 0 ? top * 1.4 : 1.0;
  const std::vector<double> y_ticks = nice_ticks(0, y_max, 4);
  const Frame f{lo, hi, 0, y_max};

  Svg svg(kWidth, kHeight, c.title);
  draw_axes(svg, f, nice_ticks(lo, hi, 6), y_ticks, c.x_label, "share of the set per bin", c.title,
            [](double v) { return short_number(v); });
  const double width = (hi - lo) / static_cast<double>(bins);
  for (const auto& [h, colour] :
       {std::pair{&id, series_colour(0)}, std::pair{&ood, series_colour(1)}}) {
    for (std::size_t i = 0; i < bins; ++i) {
      if (h->counts[i] == 0) continue;
      const double x0 = lo + width * static_cast<double>(i);
      svg.rect(f.px(x0), f.py(share(*h, i)), f.px(x0 + width) - f.px(x0),
               f.py(0) - f.py(share(*h, i)),
               "fill=\"" + colour + "\" fill-opacity=\"0.5\" stroke=\"" + colour +
                   "\" stroke-width=\"0.5\"");
    }
  }
  if (std::isfinite(c.threshold)) {
    svg.line(f.px(c.threshold), f.py(f.y_lo), f.px(c.threshold), f.py(f.y_hi),
             "stroke=\"#111111\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"");
    const bool right_half = f.px(c.threshold) > (kLeft + kWidth - kRight) / 2;
    svg.text(
        f.px(c.threshold) + (right_half ? -4 : 4), kTop + 12, c.threshold_label,
        std::string("fill=\"#111111\" text-anchor=\"") + (right_half ? "end" : "start") + "\"");
  }
  // Legend in the corner away from the threshold label.
  const bool legend_left = std::isfinite(c.threshold) && f.px(c.threshold) > kWidth / 2;
  const double lx = legend_left ? kLeft + 8 : kWidth - kRight - 150;
  int row = 0;
  for (const auto& [name, h, colour] : {std::tuple{"ID: " + c.id_name, &id, series_colour(0)},
                                        std::tuple{"OOD: " + c.ood_name, &ood, series_colour(1)}}) {
    const double y = kTop + 28 + 15 * row++;
    svg.rect(lx, y - 9, 10, 10, "fill=\"" + colour + "\" fill-opacity=\"0.6\"");
    svg.text(lx + 14, y, name + " (" + std::to_string(h->finite + h->nonfinite) + ")",
             "fill=\"#222222\"");
  }
  const std::int64_t clipped = id.below + id.above + ood.below + ood.above;
  const std::int64_t nonfinite = id.nonfinite + ood.nonfinite;
  std::string note;
  if (clipped > 0) note += std::to_string(clipped) + " scores beyond the axis are in the edge bins";
  if (nonfinite > 0) {
    note += (note.empty() ? "" : "; ") + std::to_string(nonfinite) + " non-finite scores not shown";
  }
  if (!note.empty()) {
    svg.text(kWidth - kRight, kHeight - 2, note,
             "fill=\"#777777\" font-size=\"9\" text-anchor=\"end\"");
  }
  return svg;
}

Svg roc_svg(const std::string& title, const std::vector<RocEntry>& entries) {
  const Frame f{0, 1, 0, 1};
  Svg svg(kWidth, kHeight, title);
  const std::vector<double> ticks = {0, 0.2, 0.4, 0.6, 0.8, 1};
  draw_axes(svg, f, ticks, ticks, "false positive rate (share of OOD accepted)",
            "true positive rate (ID accepted)", title, [](double v) { return short_number(v); });
  svg.line(f.px(0), f.py(0), f.px(1), f.py(1),
           "stroke=\"#bbbbbb\" stroke-width=\"1\" stroke-dasharray=\"3,3\"");
  svg.line(f.px(0), f.py(0.95), f.px(1), f.py(0.95),
           "stroke=\"#999999\" stroke-width=\"0.8\" stroke-dasharray=\"2,3\"");
  svg.text(f.px(1) - 4, f.py(0.95) + 12, "TPR 95%", "fill=\"#777777\" text-anchor=\"end\"");
  for (std::size_t e = 0; e < entries.size(); ++e) {
    const std::string& colour = series_colour(e);
    // A point per pixel-sized step is enough to draw the curve exactly at this size.
    std::vector<std::pair<double, double>> points;
    const metrics::RocPoint* last = nullptr;
    for (const metrics::RocPoint& p : entries[e].curve) {
      if (last == nullptr || std::abs(p.fpr - last->fpr) > 0.002 ||
          std::abs(p.tpr - last->tpr) > 0.002 || &p == &entries[e].curve.back()) {
        points.emplace_back(f.px(p.fpr), f.py(p.tpr));
        last = &p;
      }
    }
    svg.polyline(points, "fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.8\"");
    for (const metrics::RocPoint& p : entries[e].curve) {
      if (p.tpr >= 0.95 - 1e-12) {
        svg.circle(f.px(p.fpr), f.py(p.tpr), 3, "fill=\"" + colour + "\"");
        break;
      }
    }
    const double y = kHeight - kBottom - 10 - 14 * static_cast<double>(entries.size() - 1 - e);
    std::string label = entries[e].label;
    if (label.size() > 22) label = label.substr(0, 21) + "...";
    svg.rect(f.px(0.3), y - 9, 10, 10, "fill=\"" + colour + "\"");
    svg.text(
        f.px(0.3) + 14, y,
        label + "  AUROC " + percent(entries[e].auroc) + "  FPR95 " + percent(entries[e].fpr95),
        "fill=\"#222222\"");
  }
  return svg;
}

}  // namespace oodflow::plot
