#!/usr/bin/env bash
# Lays out the real-world SAML response corpus (tests/corpus/MANIFEST) from
# local git mirrors of the public repositories it names, at the pinned
# commits, and checks nothing else. The files themselves are not committed
# here (third-party data); backend/tests/it/corpus.rs skips when they are
# absent. Usage: scripts/corpus.sh MIRROR_ROOT
# where MIRROR_ROOT/<owner>+<name>/repo is a git directory of each repository.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:?usage: scripts/corpus.sh MIRROR_ROOT}
grep -v '^#' tests/corpus/MANIFEST | while read -r dest repo commit path extract; do
  [ -n "$dest" ] || continue
  git_dir="$root/${repo/\//+}/repo"
  mkdir -p "tests/corpus/$(dirname "$dest")"
  if [ -z "${extract:-}" ]; then
    git -C "$git_dir" show "$commit:$path" > "tests/corpus/$dest"
  else
    field=${extract#csharp:}
    git -C "$git_dir" show "$commit:$path" | python3 -c '
import re, sys
src = sys.stdin.read().lstrip("\ufeff")
m = re.search(r"public static string " + re.escape(sys.argv[1]) + r"\s*=\s*@\"((?:[^\"]|\"\")*)\"", src)
sys.stdout.write(m.group(1).replace("\"\"", "\""))' "$field" > "tests/corpus/$dest"
  fi
  echo "tests/corpus/$dest"
done
