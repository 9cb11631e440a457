// Test-only: temporary directories for config and auth files, removed when the test file ends
// (each file calls `afterAll(removeScratchDirs)`), so test runs leave nothing in /tmp.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

export function scratchDir(prefix = 'pooler-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeScratchDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
