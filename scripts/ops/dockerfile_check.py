#!/usr/bin/env python3
"""Checks the Dockerfile and .dockerignore without a Docker engine.

    dockerfile_check.py ROOT CONTEXT_COPY_DIR

- the Dockerfile parses with BuildKit's own parser (the `dockerfile` package wraps it);
- every `COPY --from=` names an earlier stage; the last stage runs as a non-root USER, has a
  HEALTHCHECK, an ENTRYPOINT or CMD, and builds with SQLX_OFFLINE=true;
- the packages it builds (ARG PACKAGES) are exactly the workspace packages that have binaries
  (bar the test harness), and it copies every one of their binaries into the image;
- the build context that .dockerignore leaves is copied into CONTEXT_COPY_DIR, and cargo can
  load the workspace from it with the lock file as committed (`cargo metadata --locked
  --offline`), with the migrations that sqlx::migrate! embeds.
Exit status 1 with each problem named.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dockerfile

NOT_IN_IMAGE = {"stock-tracker-tests"}


def dockerignore_patterns(path: Path):
    patterns = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:].strip()
        line = os.path.normpath(line.strip("/")) if line not in ("*", "**") else line
        rx = ""
        i = 0
        while i < len(line):
            c = line[i]
            if line.startswith("**", i):
                rx += ".*"
                i += 2
                if i < len(line) and line[i] == "/":
                    rx = rx[:-2] + "(.*/)?"
                    i += 1
                continue
            rx += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
            i += 1
        patterns.append((negate, re.compile(rx + r"\Z")))
    return patterns


def excluded(rel: str, patterns) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents wins."""
    parts = rel.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, rx in patterns:
        if any(rx.match(c) for c in candidates):
            result = not negate
    return result


def main() -> int:
    root, copy_dir = Path(sys.argv[1]), Path(sys.argv[2])
    problems: list[str] = []
    try:
        cmds = dockerfile.parse_file(str(root / "Dockerfile"))
    except dockerfile.GoParseError as e:
        print(f"Dockerfile does not parse: {e}")
        return 1

    stages: list[str] = []
    current: list = []
    per_stage: list[list] = []
    for c in cmds:
        if c.cmd.upper() == "FROM":
            if current:
                per_stage.append(current)
            current = [c]
            v = list(c.value)
            stages.append(v[2] if len(v) >= 3 and v[1].upper() == "AS" else str(len(stages)))
        elif current:
            current.append(c)
            for flag in c.flags:
                if flag.startswith("--from="):
                    ref = flag.split("=", 1)[1]
                    if ref not in stages[:-1] and not re.match(r"^[\w.-]+[:/]", ref):
                        problems.append(f"Dockerfile line {c.start_line}: COPY --from={ref} names no earlier stage")
    if current:
        per_stage.append(current)
    if len(per_stage) < 2:
        problems.append("Dockerfile is not a multi-stage build")

    final = per_stage[-1]
    users = [c for c in final if c.cmd.upper() == "USER"]
    if not users or users[-1].value[0].split(":")[0] in ("root", "0"):
        problems.append("the final stage does not switch to a non-root USER")
    if not any(c.cmd.upper() == "HEALTHCHECK" for c in final):
        problems.append("the final stage has no HEALTHCHECK")
    if not any(c.cmd.upper() in ("CMD", "ENTRYPOINT") for c in final):
        problems.append("the final stage has no CMD or ENTRYPOINT")
    text = (root / "Dockerfile").read_text()
    if not re.search(r"SQLX_OFFLINE=true", text):
        problems.append("the build does not set SQLX_OFFLINE=true")
    if "cargo chef cook" not in text:
        problems.append("dependencies are not built in a layer of their own (cargo chef cook)")

    # What the workspace builds, and what the Dockerfile builds and ships.
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked", "--offline"],
        cwd=root, check=True, capture_output=True, text=True).stdout)
    bins = {}
    for pkg in meta["packages"]:
        names = [t["name"] for t in pkg["targets"] if "bin" in t["kind"]]
        if names and pkg["name"] not in NOT_IN_IMAGE:
            bins[pkg["name"]] = names
    m = re.search(r'ARG PACKAGES="([^"]*)"', text)
    built = set(re.findall(r"-p\s+(\S+)", m.group(1))) if m else set()
    if built != set(bins):
        problems.append(f"ARG PACKAGES builds {sorted(built)}, the workspace's binary packages are {sorted(bins)}")
    for name in sorted(n for names in bins.values() for n in names):
        if f"target/release/{name}" not in text:
            problems.append(f"the binary {name} is not copied into the image")

    # The build context .dockerignore leaves, and whether cargo can load the workspace from it.
    patterns = dockerignore_patterns(root / ".dockerignore")
    # Docker sends the directory, not what git tracks: walk it, pruning excluded folders
    # that no "!" pattern reaches into (target/ would take long).
    reincluded = [rx.pattern for neg, rx in patterns if neg]
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        keep = []
        for d in dirnames:
            rel = rel_dir + d
            if d == ".git" or (excluded(rel, patterns) and not any(p.startswith(re.escape(rel)) for p in reincluded)):
                continue
            keep.append(d)
        dirnames[:] = keep
        files.extend(rel_dir + f for f in filenames)
    if copy_dir.exists():
        shutil.rmtree(copy_dir)
    count = 0
    for rel in files:
        if excluded(rel, patterns) or not (root / rel).is_file():
            continue
        dest = copy_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest)
        count += 1
    for needed in ["Cargo.toml", "Cargo.lock", ".cargo/config.toml", "migrations"]:
        if not (copy_dir / needed).exists():
            problems.append(f".dockerignore leaves {needed} out of the build context")
    for excluded_path in [".git", "target", ".env", ".run"]:
        if (copy_dir / excluded_path).exists():
            problems.append(f".dockerignore lets {excluded_path} into the build context")
    host = re.search(r"host: (\S+)", subprocess.run(["rustc", "-vV"], capture_output=True, text=True).stdout).group(1)
    r = subprocess.run(["cargo", "metadata", "--format-version", "1", "--locked", "--offline",
                        "--filter-platform", host],
                       cwd=copy_dir, capture_output=True, text=True,
                       env={**os.environ, "CARGO_TARGET_DIR": str(copy_dir / "target")})
    if r.returncode != 0:
        problems.append("cargo cannot load the workspace from the build context:\n    "
                        + r.stderr.strip().replace("\n", "\n    "))

    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"Dockerfile: {len(per_stage)} stages, final stage non-root with a HEALTHCHECK; builds "
          f"{', '.join(sorted(bins))}; build context of {count} files loads the workspace (--locked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
