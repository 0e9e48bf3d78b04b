// The k8s register's stale watch-cache reads: the labelling lives with the checkers (checkers/stale-reads), which
// never import a target; this re-export keeps the target's own tests and users reading it from here.
export { staleCacheReads, type StaleRead, type StalenessReport } from '../../checkers/stale-reads/index.js';
