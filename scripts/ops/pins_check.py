#!/usr/bin/env python3
"""Checks that everything the build and the deployment pull from elsewhere is pinned.

    pins_check.py workflows FILE...    every `uses:` of a non-local action or reusable workflow
                                       is a 40-hex commit SHA followed by `# <tag>`; every
                                       `docker://` action, job container and service image
                                       has an @sha256 digest
    pins_check.py compose FILE         every service image we do not build ourselves (no
                                       `build:`) is image:tag@sha256:<digest>
    pins_check.py dockerfile FILE      every FROM that is not an earlier stage is
                                       image:tag@sha256:<digest>, written out (no ARG in it)

A tag or branch can be moved by whoever controls it (or whoever steals their token) to code
that then runs with our secrets; a commit SHA or an image digest cannot. The tag stays beside
the pin so that a reader, and an updater, knows which release it is.
Exit status 1 with each problem named.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

SHA = re.compile(r"^[0-9a-f]{40}$")
DIGEST = re.compile(r"^[^\s@$]+:[^\s@$]+@sha256:[0-9a-f]{64}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[\"']?[^\s#\"']+[\"']?)\s*(?P<comment>#.*)?$")


def uses_in_yaml(node):
    """Every `uses` value, however the YAML spells it (so that a flow-style step the line
    scan below cannot see is still counted)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "uses" and isinstance(v, str):
                yield v
            else:
                yield from uses_in_yaml(v)
    elif isinstance(node, list):
        for v in node:
            yield from uses_in_yaml(v)


def check_workflow(path: Path) -> list[str]:
    problems = []
    text = path.read_text()
    doc = yaml.safe_load(text) or {}
    seen = []
    for no, line in enumerate(text.splitlines(), 1):
        m = USES_LINE.match(line)
        if not m:
            continue
        ref = m.group("ref").strip("\"'")
        seen.append(ref)
        where = f"{path}:{no}"
        if ref.startswith("./"):
            continue  # this repository's own action or workflow, at this very commit
        if ref.startswith("docker://"):
            if not DIGEST.match(ref[len("docker://"):]):
                problems.append(f"{where}: {ref} is not pinned by digest (image:tag@sha256:...)")
            continue
        name, _, version = ref.rpartition("@")
        if not name or not SHA.match(version):
            problems.append(f"{where}: {ref} is not pinned by a full commit SHA")
        elif not (m.group("comment") or "").lstrip("#").strip():
            problems.append(f"{where}: {ref} has no `# <tag>` comment saying which release it is")
    missed = sorted(set(uses_in_yaml(doc)) - set(seen))
    for ref in missed:
        problems.append(f"{path}: `uses: {ref}` is not on a line of its own; write it as `uses: <ref> # <tag>`")

    for job_name, job in (doc.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        images = []
        container = job.get("container")
        if isinstance(container, str):
            images.append(("container", container))
        elif isinstance(container, dict) and container.get("image"):
            images.append(("container", container["image"]))
        for svc_name, svc in (job.get("services") or {}).items():
            if isinstance(svc, dict) and svc.get("image"):
                images.append((f"service {svc_name}", svc["image"]))
        for what, image in images:
            if not DIGEST.match(str(image)):
                problems.append(f"{path}: job {job_name}, {what}: {image} is not image:tag@sha256:<digest>")
    return problems


def check_compose(path: Path) -> list[str]:
    problems = []
    doc = yaml.safe_load(path.read_text()) or {}
    for name, svc in (doc.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        image = svc.get("image")
        if "build" in svc:
            continue  # our own image, deployed by the commit's tag (IMAGE_TAG)
        if not image:
            problems.append(f"{path}: service {name} has neither an image nor a build")
        elif not DIGEST.match(str(image)):
            problems.append(f"{path}: service {name}: {image} is not image:tag@sha256:<digest>")
    return problems


def check_dockerfile(path: Path) -> list[str]:
    problems = []
    stages: list[str] = []
    # Joined continuation lines, so a FROM split over two lines is read whole.
    logical = re.sub(r"\\\n", " ", path.read_text())
    for line in logical.splitlines():
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if not args:
            problems.append(f"{path}: `{line.strip()}` names no image")
            continue
        image = args[0]
        if len(args) >= 3 and args[1].upper() == "AS":
            stage = args[2]
        else:
            stage = None
        if image in stages or image == "scratch":
            pass
        elif "$" in image:
            problems.append(f"{path}: `{line.strip()}`: the image is built from an ARG; write it out so its digest is the one the tag names")
        elif not DIGEST.match(image):
            problems.append(f"{path}: `{line.strip()}`: {image} is not image:tag@sha256:<digest>")
        if stage:
            stages.append(stage)
    if not stages and not problems:
        problems.append(f"{path}: no FROM found")
    return problems


def main() -> int:
    if len(sys.argv) < 3 or sys.argv[1] not in ("workflows", "compose", "dockerfile"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, files = sys.argv[1], [Path(f) for f in sys.argv[2:]]
    check = {"workflows": check_workflow, "compose": check_compose, "dockerfile": check_dockerfile}[kind]
    problems = [p for f in files for p in check(f)]
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"pins: {', '.join(map(str, files))}: every third-party "
          f"{'action and image' if kind == 'workflows' else 'image'} pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
