// The rw-register workload (Elle's): transactions of writes of unique values to per-key registers and reads,
// checked for transactional anomalies against a consistency model. Weaker inference than list-append (a read
// shows only the last write), but it exercises plain overwrites, where write skew (G2-item) shows.
import { transactionWorkload } from '../list-append/transactions.js';

export const rwRegisterWorkload = transactionWorkload('rw-register', 'w');
