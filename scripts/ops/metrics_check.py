#!/usr/bin/env python3
"""Checks that every metric an alert rule or a Grafana dashboard queries is one the binaries
export, so that dashboards cannot silently drift from the code.

    metrics_check.py --exposition api.txt --exposition worker.txt ... \
        --rules monitoring/prometheus/rules --dashboards monitoring/grafana/dashboards

Exported names come from the `# TYPE name kind` lines of live /metrics pages (prometheus-client
prints them even for families with no samples yet), expanded the way Prometheus stores them:
a counter `foo` is queried as `foo_total`, a histogram as `foo_bucket`, `foo_sum`, `foo_count`.
Used names come from every PromQL expression: alert and recording rules, dashboard panel
targets, and `label_values(...)` / `query_result(...)` template variables. Exit status 1, with
each unknown name and where it is used, when any is not exported; 2 on a malformed input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

# Series Prometheus makes itself for every target, and its own alert series.
SYNTHETIC = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
    "ALERTS",
    "ALERTS_FOR_STATE",
}

SUFFIXES = {
    "counter": ["_total", "_created"],
    "histogram": ["_bucket", "_sum", "_count", "_created"],
    "gaugehistogram": ["_bucket", "_gsum", "_gcount"],
    "summary": ["", "_sum", "_count", "_created"],
    "info": ["_info"],
    "stateset": [""],
    "gauge": [""],
    "unknown": [""],
    "untyped": [""],
}

KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan", "atan2",
}

IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def exported_names(text: str) -> set[str]:
    names: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("# TYPE "):
            continue
        parts = line.split()
        if len(parts) < 4:
            continue
        family, kind = parts[2], parts[3].lower()
        for suffix in SUFFIXES.get(kind, [""]):
            # The Prometheus text format (not OpenMetrics) names counters with _total already.
            if suffix and family.endswith(suffix):
                names.add(family)
            else:
                names.add(family + suffix)
    return names


def _strip_balanced(expr: str, opener: str, closer: str) -> str:
    out, depth = [], 0
    for ch in expr:
        if ch == opener:
            depth += 1
            continue
        if ch == closer and depth:
            depth -= 1
            continue
        if not depth:
            out.append(ch)
    return "".join(out)


def promql_metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (a lexer's view, not a full parser: enough for the
    expressions we write, and it never misses a name, which is the direction that matters)."""
    e = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)  # strings
    e = re.sub(r"#[^\n]*", "", e)  # comments
    e = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*", "1", e)  # Grafana variables
    e = _strip_balanced(e, "{", "}")  # label matchers
    e = _strip_balanced(e, "[", "]")  # ranges and subqueries
    # Label lists of grouping and matching clauses.
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"@\s*(start|end)\s*\(\s*\)", " ", e)
    names = set()
    for m in IDENT.finditer(e):
        word = m.group(0)
        start, end = m.span()
        # Part of a number (1e3, 0x1f) or a duration (5m) rather than an identifier.
        if start and (e[start - 1].isdigit() or e[start - 1] == "."):
            continue
        if re.match(r"\s*\(", e[end:]):  # a function or aggregation
            continue
        if word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def rule_expressions(path: Path):
    doc = yaml.safe_load(path.read_text())
    for group in (doc or {}).get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            yield f"{path}: {group.get('name')}/{name}", rule["expr"], rule.get("record")


def dashboard_expressions(path: Path):
    doc = json.loads(path.read_text())

    def panels(items):
        for p in items or []:
            yield p
            yield from panels(p.get("panels"))

    for panel in panels(doc.get("panels")):
        for target in panel.get("targets") or []:
            if target.get("expr"):
                yield f"{path}: panel {panel.get('title')!r}", target["expr"]
    for var in (doc.get("templating") or {}).get("list", []):
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if var.get("type") != "query" or not isinstance(query, str):
            continue
        m = re.match(r"\s*(label_values|query_result)\s*\((.*)\)\s*$", query, re.S)
        if m and m.group(1) == "label_values":
            args = m.group(2)
            # label_values(label) has no metric; label_values(expr, label) does.
            if "," in args:
                yield f"{path}: variable {var.get('name')!r}", args.rsplit(",", 1)[0]
        elif m:
            yield f"{path}: variable {var.get('name')!r}", m.group(2)
        elif query.strip():
            yield f"{path}: variable {var.get('name')!r}", query


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exposition", action="append", default=[], help="a saved /metrics page")
    ap.add_argument("--rules", action="append", default=[], help="a rule file or a folder of them")
    ap.add_argument("--dashboards", action="append", default=[], help="a dashboard or a folder of them")
    ap.add_argument("--list", action="store_true", help="print every name used and where")
    args = ap.parse_args()

    exported: set[str] = set(SYNTHETIC)
    for f in args.exposition:
        names = exported_names(Path(f).read_text())
        if not names:
            print(f"error: {f} has no '# TYPE' lines: is it a /metrics page?", file=sys.stderr)
            return 2
        exported |= names

    def files(roots, exts):
        for root in map(Path, roots):
            if root.is_dir():
                yield from sorted(p for p in root.rglob("*") if p.suffix in exts)
            else:
                yield root

    used: dict[str, list[str]] = {}
    recorded: set[str] = set()
    count = 0
    try:
        for path in files(args.rules, {".yml", ".yaml"}):
            for where, expr, record in rule_expressions(path):
                count += 1
                if record:
                    recorded.add(record)
                for name in promql_metric_names(expr):
                    used.setdefault(name, []).append(where)
        for path in files(args.dashboards, {".json"}):
            for where, expr in dashboard_expressions(path):
                count += 1
                for name in promql_metric_names(expr):
                    used.setdefault(name, []).append(where)
    except (ValueError, KeyError, yaml.YAMLError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if count == 0:
        print("error: no expressions found in the rules and dashboards given", file=sys.stderr)
        return 2

    if args.list:
        for name in sorted(used):
            print(f"{name}: {len(used[name])} use(s)")
    missing = {n: w for n, w in used.items() if n not in exported and n not in recorded}
    if missing:
        for name in sorted(missing):
            print(f"unknown metric {name!r}: not in the binaries' live /metrics; used by", file=sys.stderr)
            for where in sorted(set(missing[name])):
                print(f"    {where}", file=sys.stderr)
        return 1
    print(f"{len(used)} metric names in {count} expressions, all exported by the binaries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
