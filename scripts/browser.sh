# Sourced by test.sh: the dashboard's browser tests need headless Chromium (Debian's chromium
# package) and playwright-core (npm) to drive it. Installs what is missing and exports where
# they are; the tests fail, not skip, when BENCHKEEP_REQUIRE_BROWSER is set and they are absent.
browser_dir=target/browser
if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian package) for the dashboard's browser tests" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  { $sudo apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq chromium >/dev/null 2>&1; }; } \
    || { echo "error: cannot install chromium with apt-get (needed by the browser tests)" >&2; exit 2; }
fi
if [ ! -d "$browser_dir/node_modules/playwright-core" ]; then
  echo "installing playwright-core (npm) into $browser_dir" >&2
  mkdir -p "$browser_dir"
  npm install --silent --no-audit --no-fund --prefix "$browser_dir" playwright-core@1.64.1 >/dev/null \
    || { echo "error: cannot install playwright-core from npm (needed by the browser tests)" >&2; exit 2; }
fi
export BENCHKEEP_BROWSER_NODE_PATH="$PWD/$browser_dir/node_modules" BENCHKEEP_REQUIRE_BROWSER=1
