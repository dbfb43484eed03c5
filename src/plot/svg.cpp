#include "oodflow/plot/svg.h"

#include <cstdio>

namespace oodflow::plot {
namespace {

// Coordinates to 0.01 px: exact enough on screen and in print, and short.
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      // Line breaks and tabs in attribute values would be normalised to spaces by parsers;
      // other control characters are not allowed in XML 1.0 at all, not even as references.
      case '\n':
        out += "&#10;";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\t':
        out += "&#9;";
        break;
      default:
        out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
    }
  }
  return out;
}

void Svg::line(double x1, double y1, double x2, double y2, const std::string& attrs) {
  body_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
           num(y2) + "\" " + attrs + "/>\n";
}

void Svg::rect(double x, double y, double w, double h, const std::string& attrs) {
  body_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" +
           num(h) + "\" " + attrs + "/>\n";
}

void Svg::circle(double cx, double cy, double r, const std::string& attrs) {
  body_ += "<circle cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"" + num(r) + "\" " + attrs +
           "/>\n";
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points, const std::string& attrs) {
  body_ += "<polyline points=\"";
  for (std::size_t i = 0; i < points.size(); ++i) {
    body_ += (i ? " " : "") + num(points[i].first) + "," + num(points[i].second);
  }
  body_ += "\" " + attrs + "/>\n";
}

void Svg::text(double x, double y, std::string_view content, const std::string& attrs) {
  body_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" " + attrs + ">" + xml_escape(content) +
           "</text>\n";
}

std::string Svg::str(bool standalone) const {
  std::string out;
  if (standalone) out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg";
  if (standalone) out += " xmlns=\"http://www.w3.org/2000/svg\"";
  out += " width=\"" + num(width_) + "\" height=\"" + num(height_) + "\" viewBox=\"0 0 " +
         num(width_) + " " + num(height_) +
         "\" role=\"img\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n";
  out += "<title>" + xml_escape(title_) + "</title>\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  out += body_;
  out += "</svg>\n";
  return out;
}

}  // namespace oodflow::plot
