// libfaketime wiring shared by targets (which start processes with it) and the clock nemesis (which
// rewrites the offset file). Go binaries ignore libfaketime (vDSO), so a Db says whether it honours it.
import type { Node } from './backends/types.js';

export const LIBFAKETIME_PATH = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** Environment for a process whose clock the clock nemesis may shift. */
export function faketimeEnv(node: Node): Record<string, string> {
  return {
    LD_PRELOAD: LIBFAKETIME_PATH,
    FAKETIME_TIMESTAMP_FILE: node.clockFile,
    FAKETIME_NO_CACHE: '1',
    // Relative offsets (+30s) keep time flowing; without DONT_RESET the offset would restart per exec.
    FAKETIME_DONT_RESET: '1',
    // Clock skew moves only the wall clock: timers, timeouts and elapsed-time measurements rightly run on
    // the monotonic clock, and faking it too would fire (or freeze) them instead of skewing the time of day.
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  };
}
