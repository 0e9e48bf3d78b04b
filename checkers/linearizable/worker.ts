// Worker-thread entry: checks a batch of independent keys and posts their results back.
import { parentPort, workerData } from 'node:worker_threads';
import { checkKeys, type WorkerRequest } from './index.js';
import { getModel } from './models.js';

const request = workerData as WorkerRequest;
const model = getModel(request.model, { initial: request.initial, nilReadsAny: request.nilReadsAny });
parentPort?.postMessage(checkKeys(model, request.inputs, request.limits));
