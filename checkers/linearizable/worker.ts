// Worker-thread entry: checks a batch of independent keys, or reads and checks its share of a JSONL file, and posts the results back.
import { parentPort, workerData } from 'node:worker_threads';
import { runFileCheck, type FileCheckRequest } from './file.js';
import { checkKeys, type WorkerRequest } from './index.js';
import { getModel } from './models.js';

const request = workerData as WorkerRequest | FileCheckRequest;
if ('kind' in request && request.kind === 'file') {
  parentPort?.postMessage(runFileCheck(request));
} else {
  const batch = request as WorkerRequest;
  const model = getModel(batch.model, { initial: batch.initial, nilReadsAny: batch.nilReadsAny });
  parentPort?.postMessage(checkKeys(model, batch.inputs, batch.limits, { firstViolation: batch.firstViolation, violationFlag: batch.violationFlag }));
}
