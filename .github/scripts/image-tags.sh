#!/usr/bin/env bash
# The tags .github/workflows/deploy.yml gives the commit's image, one a line:
#
#   the commit SHA      always: deploys pull this one (IMAGE_TAG), so it never moves;
#   latest              only for refs/heads/main, the default branch: docker-compose.yml and
#                       .env.example fall back to it, so no other branch or tag may move it;
#   the branch name     for other branches, when the name is already a valid tag of its own
#                       and not a reserved one (latest, main, or 40 hex digits that would pass
#                       for a commit's tag). A name is never rewritten into a tag: "Latest" or
#                       "feature/latest" made lower-case or slug-like could land on a tag that
#                       means something else. A tag ref (workflow_dispatch on a tag) gets only
#                       the commit tag.
#
# Usage: image-tags.sh REF SHA      e.g. image-tags.sh refs/heads/develop "$GITHUB_SHA"
# What it refuses goes to stderr, with the reason; scripts/check-ops.sh (workflows) tests it.
set -euo pipefail
ref="${1:?usage: image-tags.sh REF SHA}"
sha="${2:?usage: image-tags.sh REF SHA}"
if ! [[ "$sha" =~ ^[0-9a-f]{40}$ ]]; then
  echo "image-tags: $sha is not a commit SHA" >&2
  exit 2
fi

echo "$sha"
case "$ref" in
  refs/heads/main)
    echo main
    echo latest
    ;;
  refs/heads/*)
    name="${ref#refs/heads/}"
    if [ "$name" = latest ] || [ "$name" = main ] || [[ "$name" =~ ^[0-9a-f]{40}$ ]]; then
      echo "image-tags: branch '$name' would move a reserved tag; tagging the commit only" >&2
    elif ! [[ "$name" =~ ^[a-z0-9_][a-z0-9_.-]{0,127}$ ]]; then
      echo "image-tags: branch '$name' is not a tag as it stands; tagging the commit only" >&2
    else
      echo "$name"
    fi
    ;;
  *)
    echo "image-tags: $ref is not a branch; tagging the commit only" >&2
    ;;
esac
