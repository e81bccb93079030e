// docs/audit.md's export verifier, ported to JavaScript: reads an export on standard
// input, checks every hash, link and version of events of scheme
// handoff-ledger/jcs-sha256-v2 (RFC 8785), and prints the same summary line.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const jcs = (value) =>
  Array.isArray(value)
    ? "[" + value.map(jcs).join(",") + "]"
    : value !== null && typeof value === "object"
      ? "{" + Object.keys(value).sort().map((key) => JSON.stringify(key) + ":" + jcs(value[key])).join(",") + "}"
      : JSON.stringify(value);

const last = new Map(); // handoff_id -> [version, hash] of the last event seen
let bad = 0;
let lines = 0;
for (const line of readFileSync(0, "utf8").split("\n")) {
  if (!line) continue;
  lines += 1;
  const event = JSON.parse(line);
  if (event.hash === null) continue; // recorded before hash chains
  if (event.scheme !== "handoff-ledger/jcs-sha256-v2") {
    console.log(`line ${lines}: ${event.handoff_id} v${event.version} ${event.type}: scheme ${event.scheme} not checked`);
    last.set(event.handoff_id, [event.version, event.hash]);
    continue;
  }
  const canonical = {};
  for (const key of ["type", "handoff_id", "version", "at", "prev_hash", "data"]) canonical[key] = event[key];
  canonical.scheme = event.scheme;
  const problems = [];
  if (createHash("sha256").update(jcs(canonical), "utf8").digest("hex") !== event.hash) {
    problems.push("content does not match its hash");
  }
  const seen = last.get(event.handoff_id);
  if (seen && (event.version !== seen[0] + 1 || event.prev_hash !== seen[1])) {
    problems.push(`does not follow version ${seen[0]}`);
  }
  for (const problem of problems) {
    bad += 1;
    console.log(`line ${lines}: ${event.handoff_id} v${event.version} ${event.type}: ${problem}`);
  }
  last.set(event.handoff_id, [event.version, event.hash]);
}
console.log(`${last.size ? lines : 0} lines, ${last.size} handoffs, ${bad} problems`);
process.exit(bad ? 1 : 0);
