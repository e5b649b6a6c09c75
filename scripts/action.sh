#!/usr/bin/env bash
# The steps of benchkeep's GitHub Action (action.yml), kept here so that they can be run and
# tested outside GitHub: crates/cli/tests/action.rs runs each one with a simulated runner
# environment (GITHUB_* variables, an event, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files).
#
#   action.sh fingerprint   key=... on $GITHUB_OUTPUT: the cache key of the installed binary
#   action.sh install       installs benchkeep into $BENCHKEEP_HOME/bin
#   action.sh check         benchkeep check with the action's `args`
#
# The action's inputs and context arrive as environment variables (action.yml maps them):
#   BENCHKEEP_HOME          where the binary is installed (the cached directory)
#   BENCHKEEP_ACTION_PATH   the action's checkout (GITHUB_ACTION_PATH)
#   BENCHKEEP_ACTION_REPO   the action's repository, owner/name (github.action_repository)
#   BENCHKEEP_ACTION_REF    the ref the workflow named (github.action_ref): v1.2.3, main, a sha
#   BENCHKEEP_RELEASES      where release binaries are downloaded from (default: the action
#                           repository's GitHub releases)
#   BENCHKEEP_ARGS          the `args` input
#   BENCHKEEP_HEAD_REPO     a pull request's head repository, owner/name (empty otherwise)
set -euo pipefail

action_path=${BENCHKEEP_ACTION_PATH:-${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}}
# sha256sum, or shasum on macOS runners, which do not always have coreutils (an array: xargs
# runs it, so it cannot be a function).
sha256=(sha256sum)
command -v sha256sum > /dev/null || sha256=(shasum -a 256)

# The version of the benchkeep the action's checkout builds (the workspace's version).
version() {
  sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$action_path/Cargo.toml"
}

# A cache key that changes whenever the binary would: the version, and a hash of every file a
# build from source reads. (hashFiles() in action.yml only sees the workspace, not the action's
# own checkout, so an upgrade of the action kept the old binary.)
fingerprint() {
  local sum
  sum=$(cd "$action_path" &&
    find Cargo.toml Cargo.lock crates -type f \
      \( -name '*.rs' -o -name '*.c' -o -name '*.h' -o -name Cargo.toml -o -name Cargo.lock \) \
      -not -path '*/tests/*' -print0 |
    LC_ALL=C sort -z | xargs -0 "${sha256[@]}" | "${sha256[@]}" | cut -c1-16)
  # ImageOS (ubuntu22, ubuntu24, macos14, ...): a binary built on a newer image may need a
  # newer glibc than an older image has.
  echo "key=benchkeep-$(version)-${ImageOS:-unknown}-$sum" >> "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
}

# The Rust target triple of the release binary for this runner, or nothing when there is none.
target() {
  local arch os
  case "${RUNNER_ARCH:-$(uname -m)}" in
    X64 | x86_64 | amd64) arch=x86_64 ;;
    ARM64 | aarch64 | arm64) arch=aarch64 ;;
    *) return 0 ;;
  esac
  case "${RUNNER_OS:-$(uname -s)}" in
    Linux) os=unknown-linux-gnu ;;
    macOS | Darwin) os=apple-darwin ;;
    *) return 0 ;;
  esac
  echo "$arch-$os"
}

# The release binary when the workflow pins a release (`@v1.2.3`) and one is published for this
# runner; otherwise a build of the action's own checkout. A branch or commit pin builds from
# source even when a release of the same version exists, because the code may differ.
install() {
  local home=${BENCHKEEP_HOME:?BENCHKEEP_HOME is not set} version triple ref url scratch
  version=$(version)
  triple=$(target)
  ref=${BENCHKEEP_ACTION_REF:-}
  mkdir -p "$home/bin"
  if [ -n "$triple" ] && [ "$ref" = "v$version" ]; then
    url="${BENCHKEEP_RELEASES:-https://github.com/${BENCHKEEP_ACTION_REPO:?BENCHKEEP_ACTION_REPO is not set}/releases/download}/$ref/benchkeep-$triple.tar.gz"
    scratch=$(mktemp -d)
    # The release's .sha256 (release.yml writes it beside each archive) must match: a
    # truncated or damaged download builds from source instead. (Fetched from the same
    # release, it does not protect against a replaced release.)
    if curl -fsSL --retry 3 "$url" -o "$scratch/benchkeep-$triple.tar.gz" 2>"$scratch/curl.log" &&
      curl -fsSL --retry 3 "$url.sha256" -o "$scratch/sum" 2>>"$scratch/curl.log" &&
      (cd "$scratch" && "${sha256[@]}" -c sum >> curl.log 2>&1) &&
      tar -xzf "$scratch/benchkeep-$triple.tar.gz" -C "$scratch" benchkeep &&
      "$scratch/benchkeep" --version | grep -qx "benchkeep $version"; then
      mv "$scratch/benchkeep" "$home/bin/benchkeep"
      rm -rf "$scratch"
      echo "benchkeep: installed the $ref release binary for $triple"
      return 0
    fi
    echo "::notice title=benchkeep::no usable release binary at $url ($(tr '\n' ' ' < "$scratch/curl.log" | head -c 300)); building from source"
    rm -rf "$scratch"
  fi
  cargo install --locked --root "$home" --path "$action_path/crates/cli"
}

# benchkeep check with the `args` input, split into words as a POSIX shell would (quotes,
# backslashes, "" an empty word) but never evaluated: no expansion, no command substitution.
# benchkeep splits them itself (`split-words`, the shlex rules): xargs, used before, differs from
# a shell on escapes inside quotes and drops empty words. The github format is added unless the
# arguments choose one, before a `--` (after it, words are the command's).
check() {
  local -a args=() own=()
  local word words has_format=false pr_or_no_record=false
  words=$(mktemp)
  if ! printf '%s' "${BENCHKEEP_ARGS:-}" | benchkeep split-words > "$words"; then
    rm -f "$words"
    echo "::error title=benchkeep::the action's args cannot be split into words (see the error above)"
    exit 2
  fi
  # A read loop, not mapfile -d '' (bash 4.4+): a self-hosted macOS runner may have bash 3.2.
  while IFS= read -r -d '' word; do args+=("$word"); done < "$words"
  rm -f "$words"
  for word in "${args[@]}"; do
    [ "$word" = "--" ] && break
    case "$word" in
      --format | --format=*) has_format=true ;;
      --pr | --pr=* | --no-record) pr_or_no_record=true ;;
    esac
  done
  $has_format || own+=(--format github)
  # A fork's pull request runs with a read-only token: a store that pushes (git) or writes (s3)
  # would fail the job after the gate passed. Its check measures and reports; nothing is
  # recorded (check --pr records nothing anyway).
  # A head repository that is not this one counts as a fork, and so does none at all (the
  # fork was deleted): its token cannot write either.
  if [ "${GITHUB_EVENT_NAME:-}" = pull_request ] &&
    [ "${BENCHKEEP_HEAD_REPO:-}" != "${GITHUB_REPOSITORY:-}" ] && ! $pr_or_no_record; then
    own+=(--no-record)
  fi
  # The action's own flags go first: after the user's `--` they would be the command's words.
  exec benchkeep check "${own[@]}" "${args[@]}"
}

case "${1:-}" in
  fingerprint | install | check) "$1" ;;
  *)
    echo "usage: action.sh fingerprint|install|check" >&2
    exit 2
    ;;
esac
