#!/usr/bin/env python3
"""Checks the CI outputs of one `oodflow score` run against its JSON report.

JUnit: parses as XML; one testsuite per detector and one testcase per detector x OOD set x
gate; a <failure> for each tripped check, naming the metric, its value and the bound; the
failure counts equal the tripped checks of the report.
Markdown: a GitHub-flavoured table (header, a valid delimiter row, every row with the
header's number of cells) whose values are the report's, rounded as printed.

Usage: check_ci_report.py REPORT.json JUNIT.xml SUMMARY.md
"""
import json
import re
import sys
import xml.etree.ElementTree as ET

REPORT_FORMAT_VERSION = 2


def fail(message):
    sys.exit(f"check_ci_report: {message}")


def load_report(path):
    with open(path) as f:
        report = json.load(f)
    version = report.get("report_format_version")
    if version != REPORT_FORMAT_VERSION:
        fail(f"'{path}' has report_format_version {version}; this check reads version "
             f"{REPORT_FORMAT_VERSION}")
    return report


def check_junit(report, path):
    root = ET.parse(path).getroot()  # raises on malformed XML
    if root.tag != "testsuites":
        fail(f"root element <{root.tag}>, expected <testsuites>")
    checks = report["gates"]["checks"]
    tripped = [c for c in checks if not c["passed"]]
    if not tripped:
        fail("the report has no tripped gate; the run was meant to trip one")
    suites = root.findall("testsuite")
    if len(suites) != len(report["detectors"]):
        fail(f"{len(suites)} testsuites for {len(report['detectors'])} detectors")
    cases = root.findall("./testsuite/testcase")
    if len(cases) != len(checks):
        fail(f"{len(cases)} testcases for {len(checks)} gate checks")
    failures = [f for f in root.iter("failure")]
    if len(failures) != len(tripped):
        fail(f"{len(failures)} <failure> elements for {len(tripped)} tripped checks")
    if int(root.get("failures")) != len(tripped):
        fail(f"testsuites failures={root.get('failures')}, expected {len(tripped)}")
    if sum(int(s.get("failures")) for s in suites) != len(tripped):
        fail("the testsuites' failure counts do not add up to the tripped checks")
    if int(root.get("tests")) != len(checks):
        fail(f"testsuites tests={root.get('tests')}, expected {len(checks)}")
    for check in tripped:
        classname = "oodflow." + check["detector"]
        name = f"{check['set']} {check['metric']} "
        matching = [c for c in cases
                    if c.get("classname") == classname and c.get("name").startswith(name)]
        if len(matching) != 1:
            fail(f"no single testcase {classname} '{name}...' for a tripped check")
        failure = matching[0].find("failure")
        if failure is None:
            fail(f"testcase {classname} '{matching[0].get('name')}' has no <failure>")
        message = failure.get("message")
        value = re.search(r"= (\S+) ", message)
        bound = re.search(r"bound (\S+)$", message)
        if (check["metric"] not in message or value is None or bound is None
                or float(value.group(1)) != check["value"]
                or float(bound.group(1)) != check["bound"]):
            fail(f"failure message '{message}' does not name {check['metric']} = "
                 f"{check['value']} and the bound {check['bound']}")
    print(f"junit: {len(cases)} testcases, {len(failures)} failures, as the report")


def cells(row):
    """The cells of a GFM table row, split at the pipes that are not backslash-escaped."""
    row = row.strip()
    if not row.startswith("|") or not row.endswith("|"):
        fail(f"table row without leading and trailing pipes: {row!r}")
    return [c.strip() for c in re.split(r"(?<!\\)\|", row[1:-1])]


def check_markdown(report, path):
    with open(path) as f:
        lines = f.read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        fail("no table in the Markdown file")
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(cells(line))
    header, delimiter, body = rows[0], rows[1], rows[2:]
    if any(len(r) != len(header) for r in rows):
        fail(f"rows with other cell counts than the header's {len(header)}: {rows}")
    if not all(re.fullmatch(r":?-{3,}:?", c) for c in delimiter):
        fail(f"invalid delimiter row {delimiter}")
    detectors = report["detectors"]
    if len(body) != len(detectors):
        fail(f"{len(body)} table rows for {len(detectors)} detectors")
    sets = [s["name"] for s in detectors[0]["ood"]]
    if header[1:] != sets:
        fail(f"columns {header[1:]}, expected the OOD sets {sets}")
    for row, detector in zip(body, detectors):
        if row[0] != detector["label"]:
            fail(f"row '{row[0]}', expected detector '{detector['label']}'")
        for cell, ood in zip(row[1:], detector["ood"]):
            expected = f"{100 * ood['auroc']:.2f} / {100 * ood['fpr95']:.2f}"
            if cell != expected:
                fail(f"{detector['label']} on {ood['name']}: '{cell}', the report gives {expected}")
    tripped = [c for c in report["gates"]["checks"] if not c["passed"]]
    listed = [line for line in lines if line.startswith("- ")]
    if len(listed) != len(tripped):
        fail(f"{len(listed)} failed gates listed for {len(tripped)} tripped checks")
    print(f"markdown: {len(body)} rows x {len(header)} cells, values as the report")


def main():
    if len(sys.argv) != 4:
        fail("usage: check_ci_report.py REPORT.json JUNIT.xml SUMMARY.md")
    report = load_report(sys.argv[1])
    check_junit(report, sys.argv[2])
    check_markdown(report, sys.argv[3])


if __name__ == "__main__":
    main()
