// Prints vitest's JSON report as plain closing lines for CI logs: "N passed, N failed, N skipped", then why
// each test was skipped and which test files failed before any test ran (those count in no test total).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const path = process.argv[2] ?? '.test-results/vitest.json';
/** Lines listed per kind at most, so a broken suite cannot flood the log. */
const listedMax = 50;

let report;
try {
  report = JSON.parse(readFileSync(path, 'utf8'));
} catch (error) {
  console.log(`test-summary: no vitest report at ${path} (${error instanceof Error ? error.message : error})`);
  process.exit(1);
}

const files = Array.isArray(report.testResults) ? report.testResults : [];
const nameOf = (file) => relative(process.cwd(), String(file.name ?? '?'));
const skipped = files.flatMap((file) =>
  (file.assertionResults ?? [])
    .filter((test) => test.status === 'skipped' || test.status === 'pending' || test.status === 'todo')
    .map((test) => `${nameOf(file)}: ${test.fullName ?? test.title}`),
);
// A file that fails to load (an import error, a throw at top level) has no tests, so no test counts it.
const brokenFiles = files.filter((file) => file.status === 'failed' && (file.assertionResults ?? []).length === 0);
const skippedCount = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);

console.log(
  `${report.numPassedTests ?? 0} passed, ${report.numFailedTests ?? 0} failed, ${skippedCount} skipped` +
    (brokenFiles.length > 0 ? `, ${brokenFiles.length} test file${brokenFiles.length === 1 ? '' : 's'} failed to load` : ''),
);
if (skipped.length > 0) {
  // A missing dependency fails under CI=true (src/testing/requirements.ts), so what is left here was skipped on purpose.
  console.log(`skipped, with the reason in each title:`);
  for (const line of skipped.slice(0, listedMax)) console.log(`  ${line}`);
  if (skipped.length > listedMax) console.log(`  ... and ${skipped.length - listedMax} more`);
}
for (const file of brokenFiles.slice(0, listedMax)) {
  console.log(`failed to load: ${nameOf(file)}: ${String(file.message ?? '').split('\n')[0]}`);
}
