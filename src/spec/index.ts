// The test spec's public face: its type, defaults, and the loader that validates files and flags.
export * from './types.js';
export { loadSpec, parseSpecText, validateSpec, flagsToRaw, readSpecFile, specToArgv, raftkvBugs } from './load.js';
