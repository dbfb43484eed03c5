// A minimal SVG writer: the few shapes oodflow's charts draw, with text escaped. Hand-written
// because the charts need only lines, rectangles and text, and a plotting library would be
// a large dependency (or a script) for that; the output is plain SVG 1.1 that browsers,
// Inkscape and LaTeX tool chains read.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oodflow::plot {

/// Escapes &, <, >, " and ' for XML and HTML text and attribute values; line breaks and tabs
/// become character references, other control characters (not allowed in XML 1.0) '?'.
std::string xml_escape(std::string_view text);

class Svg {
 public:
  /// `title` is the drawing's accessible name.
  Svg(double width, double height, std::string title)
      : width_(width), height_(height), title_(std::move(title)) {}

  /// `attrs` are extra attributes written as given, e.g. R"(stroke="#333")".
  void line(double x1, double y1, double x2, double y2, const std::string& attrs);
  void rect(double x, double y, double w, double h, const std::string& attrs);
  void circle(double cx, double cy, double r, const std::string& attrs);
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& attrs);
  /// `content` is escaped.
  void text(double x, double y, std::string_view content, const std::string& attrs);

  /// The document: with `standalone`, an XML declaration and the SVG namespace (a file of its
  /// own); without, an element to inline in HTML5.
  std::string str(bool standalone) const;

 private:
  double width_;
  double height_;
  std::string title_;
  std::string body_;
};

}  // namespace oodflow::plot
