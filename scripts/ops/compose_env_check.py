#!/usr/bin/env python3
"""Checks that .env.example documents what docker-compose.yml and the binaries read.

    compose_env_check.py docker-compose.yml .env.example [README.md]

- every variable docker-compose.yml interpolates (${NAME}, ${NAME:-default}, ${NAME:?error})
  is assigned in .env.example;
- every setting in README.md's configuration table is in .env.example, assigned or in a
  comment, except the ones docker-compose.yml composes itself (connection URLs, listen
  addresses, log format);
- .env.example does not set what docker-compose.yml composes (it would be ignored).
Exit status 1 with each problem named.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

# Set by docker-compose.yml for each service; .env.example must leave them out.
COMPOSED = {
    "DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_JOBS_ROLE", "REDIS_URL", "API_BIND", "WORKER_METRICS_BIND",
    "SCHEDULER_METRICS_BIND", "WB_SANDBOX_BIND", "LOG_FORMAT", "TRUSTED_PROXIES",
    "SENTRY_RELEASE", "SENTRY_ENVIRONMENT",
}
INTERPOLATION = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def main() -> int:
    compose_path, env_path = Path(sys.argv[1]), Path(sys.argv[2])
    readme_path = Path(sys.argv[3]) if len(sys.argv) > 3 else compose_path.parent / "README.md"
    compose = yaml.safe_load(compose_path.read_text())
    used = set()
    for s in strings(compose):
        for m in INTERPOLATION.finditer(s.replace("$$", "")):
            used.add(m.group(1) or m.group(2))

    assigned, mentioned = set(), set()
    for line in env_path.read_text().splitlines():
        m = re.match(r"\s*([A-Z][A-Z0-9_]*)=", line)
        if m:
            assigned.add(m.group(1))
        m = re.match(r"\s*#\s*([A-Z][A-Z0-9_]*)=", line)
        if m:
            mentioned.add(m.group(1))
        mentioned.update(re.findall(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b", line))

    problems = []
    for name in sorted(used - assigned):
        problems.append(f"{compose_path} reads ${{{name}}}, which {env_path} does not assign")
    for name in sorted(assigned & COMPOSED):
        problems.append(f"{env_path} sets {name}, which {compose_path} composes itself (it would be overridden)")

    documented = set()
    if readme_path.exists():
        for line in readme_path.read_text().splitlines():
            if line.startswith("| `"):
                first_cell = line.split("|")[1]
                documented.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
        for name in sorted(documented - COMPOSED - assigned - mentioned):
            problems.append(f"{readme_path} documents {name}, which {env_path} does not mention")

    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{env_path}: all {len(used)} variables of {compose_path} assigned; "
          f"{len(documented)} settings of {readme_path.name} covered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
