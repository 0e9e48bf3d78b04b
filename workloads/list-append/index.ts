// The list-append workload (Elle's): transactions of appends of unique values to per-key lists and reads of whole
// lists, checked for transactional anomalies (G0, G1a/b/c, G-single, G2, ...) against a consistency model.
import { transactionWorkload } from './transactions.js';

export const listAppendWorkload = transactionWorkload('list-append', 'append');
