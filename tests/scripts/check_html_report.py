"""Checks an oodflow HTML report and its SVG files (stdlib and Pillow only).

Usage: check_html_report.py REPORT.html SVG_DIR EXPECTED_PLOTS
- the page parses as HTML with every element closed in order, and as XML (strict);
- it holds EXPECTED_PLOTS <svg> elements and SVG_DIR holds as many standalone SVG files,
  each a well-formed SVG document;
- nothing in it refers to anything outside the file (no URL, script, link, image, import);
- headless Chromium renders it to a screenshot that is not blank: the ID (blue) and OOD
  (orange) colours of the plots cover a visible share of it.
"""
import html.parser
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from PIL import Image

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "wbr"}


class Balance(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.svgs, self.errors = [], 0, []

    def handle_starttag(self, tag, attrs):
        self.svgs += tag == "svg"
        for name, value in attrs:
            if value and ("//" in value or value.strip().lower().startswith(("http", "data:", "javascript"))):
                self.errors.append(f"external reference <{tag} {name}={value!r}>")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.svgs += tag == "svg"

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close <{self.stack[-1] if self.stack else '-'}>")
        else:
            self.stack.pop()


def fail(message):
    print(f"check_html_report: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    report, svg_dir, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    text = open(report, encoding="utf-8").read()
    parser = Balance()
    parser.feed(text)
    parser.close()
    if parser.errors or parser.stack:
        fail(f"{report}: {parser.errors[:3]} unclosed: {parser.stack}")
    ET.fromstring(text.split("\n", 1)[1])  # after <!DOCTYPE html>: strict XML
    if parser.svgs != expected:
        fail(f"{report}: {parser.svgs} <svg> elements, expected {expected}")
    for needle in ("http:", "https:", "<script", "<link", "<img", "<iframe", "url(", "@import"):
        if needle in text:
            fail(f"{report} refers outside itself: found {needle!r}")

    files = sorted(f for f in os.listdir(svg_dir) if f.endswith(".svg"))
    if len(files) != expected:
        fail(f"{svg_dir}: {len(files)} SVG files, expected {expected}")
    for f in files:
        root = ET.parse(os.path.join(svg_dir, f)).getroot()
        if root.tag != "{http://www.w3.org/2000/svg}svg":
            fail(f"{f}: root element {root.tag}")

    with tempfile.TemporaryDirectory() as tmp:
        shot = os.path.join(tmp, "shot.png")
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp}/profile", "--window-size=1400,1200",
             f"--screenshot={shot}", "file://" + os.path.abspath(report)],
            check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        image = Image.open(shot).convert("RGB")
        pixels = list(image.getdata())
    blue = sum(1 for r, g, b in pixels if b > r + 30)
    orange = sum(1 for r, g, b in pixels if r > b + 60)
    non_white = sum(1 for p in pixels if min(p) < 235)
    n = len(pixels)
    print(f"screenshot {image.size[0]}x{image.size[1]}: {100 * non_white / n:.1f}% non-white, "
          f"{100 * blue / n:.2f}% blue, {100 * orange / n:.2f}% orange")
    if non_white < 0.05 * n or blue < 0.005 * n or orange < 0.005 * n:
        fail("the screenshot is (nearly) blank: the page did not render its plots")
    print(f"check_html_report: {report} OK ({parser.svgs} plots, {len(files)} SVG files)")


if __name__ == "__main__":
    main()
