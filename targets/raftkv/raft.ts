// The Raft consensus core, pure: no sockets, disk or timers, so a seeded simulation can drive it exactly.
// It follows the extended Raft paper plus etcd's PreVote, CheckQuorum, pipelined replication and ReadIndex.
// The driver calls tick/step/propose/readIndex, then takeReady(): it must persist `hardState`, `snapshot`
// and `entries` (durably, in that order) and then call markStable, before sending `messages` (a leader's
// appends and heartbeats may leave at once), and apply `committed` in order.

export type NodeId = string;
export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export interface Entry {
  index: number;
  term: number;
  /** The state machine command; null is the no-op a new leader appends to commit its term. */
  data: unknown;
}

export interface Snapshot {
  index: number;
  term: number;
  /** Opaque state machine image at `index`. */
  data: unknown;
}

export interface HardState {
  term: number;
  votedFor: NodeId | null;
}

/** What a node had durably written before it stopped. */
export interface PersistedState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous and in index order. */
  entries: Entry[];
}

interface MessageBase {
  from: NodeId;
  to: NodeId;
  term: number;
}
export type Message =
  | (MessageBase & { type: 'pre-vote' | 'vote'; lastLogIndex: number; lastLogTerm: number })
  | (MessageBase & { type: 'pre-vote-response' | 'vote-response'; granted: boolean })
  | (MessageBase & { type: 'append'; prevIndex: number; prevTerm: number; entries: Entry[]; commit: number })
  | (MessageBase & {
      type: 'append-response';
      success: boolean;
      /** On success the highest index known to match the leader; on rejection the rejected prevIndex. */
      index: number;
      /** On rejection: where the leader should retry (first index of the conflicting term, or lastIndex + 1). */
      hintIndex: number;
      /** On rejection: the follower's term at the conflict, or 0 when its log is simply too short. */
      hintTerm: number;
    })
  | (MessageBase & {
      type: 'heartbeat';
      commit: number;
      sequence: number;
      /** The last index the leader had sent this follower when it sent the heartbeat. */
      sentIndex: number;
    })
  | (MessageBase & { type: 'heartbeat-response'; sequence: number; sentIndex: number; lastIndex: number })
  | (MessageBase & { type: 'snapshot'; snapshot: Snapshot })
  | (MessageBase & { type: 'snapshot-response'; index: number });

/** A linearizable read that may be served once the state machine has applied `index`. */
export interface ReadState {
  context: unknown;
  index: number;
}

export interface Ready {
  /** Entries to append durably; an entry at index i replaces any persisted entry at i and after. */
  entries: Entry[];
  /** Set when term or vote changed; persist before sending messages. */
  hardState: HardState | null;
  /**
   * A snapshot received from the leader: persist it first, replacing the whole persisted log; `entries`
   * (all after it) are appended after it.
   */
  snapshot: Snapshot | null;
  /** Send only after the above is durable. */
  messages: Message[];
  /** A snapshot the state machine must load before applying `committed`. */
  snapshotToApply: Snapshot | null;
  committed: Entry[];
  readStates: ReadState[];
  /** Reads that cannot be served here (no longer leader): the driver answers them with an error. */
  failedReads: unknown[];
}

export interface RaftConfig {
  id: NodeId;
  /** Every member, including this node. Static membership. */
  peers: NodeId[];
  /** Minimum election timeout in ticks; the actual timeout is random in [electionTicks, 2*electionTicks). */
  electionTicks: number;
  heartbeatTicks: number;
  /** A random number in [0, 1): seeded in simulation, Math.random in production. */
  random: () => number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /**
   * With checkQuorum, whether the core itself steps a leader down when it loses its majority (default true).
   * False hands that decision to the driver (stepDown), as a wall-clock leader lease does.
   */
  checkQuorumStepDown?: boolean;
  /** Upper bounds on pipelining: entries per append message and unacknowledged append messages per peer. */
  maxEntriesPerMessage?: number;
  maxInflightMessages?: number;
}

interface Progress {
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  /** Probe state: an append is outstanding; wait for its answer or the next heartbeat. */
  paused: boolean;
  /** Last index of each unacknowledged append message, oldest first (replicate state). */
  inflight: number[];
  pendingSnapshot: number;
  recentActive: boolean;
  ackedSequence: number;
  /** Times this follower fell back to probing (a lost or rejected append): a health signal. */
  probes: number;
}

interface PendingRead {
  context: unknown;
  index: number;
  sequence: number;
}

export class RaftNode {
  readonly id: NodeId;
  readonly peers: readonly NodeId[];
  role: Role = 'follower';
  term = 0;
  votedFor: NodeId | null = null;
  leader: NodeId | null = null;
  commitIndex: number;
  /** Highest index handed to the driver in `committed` (or covered by `snapshotToApply`). */
  appliedIndex: number;

  private snapshot: Snapshot;
  private log: Entry[];
  /** Highest index of this log the driver reported durable (markStable); a leader counts only these. */
  private stableIndex: number;
  private readonly config: Required<RaftConfig>;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private votes = new Map<NodeId, boolean>();
  private progress = new Map<NodeId, Progress>();
  private heartbeatSequence = 0;
  private heartbeatWanted = false;
  private appendWanted = false;
  private pendingReads: PendingRead[] = [];
  /** Reads that arrived before this leader committed an entry of its own term. */
  private readsAwaitingTermCommit: unknown[] = [];

  private outEntries: Entry[] = [];
  private outHardStateDirty = false;
  private outSnapshot: Snapshot | null = null;
  private outMessages: Message[] = [];
  private outSnapshotToApply: Snapshot | null = null;
  private outReadStates: ReadState[] = [];
  private outFailedReads: unknown[] = [];

  constructor(config: RaftConfig, persisted?: PersistedState) {
    this.config = {
      preVote: true,
      checkQuorum: true,
      checkQuorumStepDown: true,
      maxEntriesPerMessage: 512,
      maxInflightMessages: 64,
      ...config,
    };
    this.id = config.id;
    this.peers = [...config.peers];
    if (!this.peers.includes(this.id)) throw new Error(`raft: peers ${this.peers.join(',')} do not include ${this.id}`);
    this.snapshot = persisted?.snapshot ?? { index: 0, term: 0, data: null };
    this.log = persisted ? [...persisted.entries] : [];
    if (persisted) {
      this.term = persisted.hardState.term;
      this.votedFor = persisted.hardState.votedFor;
    }
    // The snapshot is committed by definition; the rest of the commit index is relearned from the leader.
    this.commitIndex = this.snapshot.index;
    this.appliedIndex = this.snapshot.index;
    this.stableIndex = this.lastIndex;
    if (this.snapshot.index > 0) this.outSnapshotToApply = this.snapshot;
    this.resetRandomizedElectionTimeout();
  }

  // ---- log accessors -------------------------------------------------------------------------

  get lastIndex(): number {
    return this.log.length > 0 ? this.log[this.log.length - 1].index : this.snapshot.index;
  }
  get lastTerm(): number {
    return this.log.length > 0 ? this.log[this.log.length - 1].term : this.snapshot.term;
  }
  get firstIndex(): number {
    return this.snapshot.index + 1;
  }
  get snapshotIndex(): number {
    return this.snapshot.index;
  }

  /** Term of the entry at `index`, or undefined when it is compacted away or beyond the log. */
  termAt(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    if (index < this.snapshot.index || index > this.lastIndex) return undefined;
    return this.log[index - this.snapshot.index - 1].term;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.snapshot.index || index > this.lastIndex) return undefined;
    return this.log[index - this.snapshot.index - 1];
  }

  /**
   * The driver reports that entries up to `index` (whose term is `term`) are durable. A leader may send
   * appends before its own write completes; it counts itself toward a commit only for durable entries.
   */
  markStable(index: number, term: number): void {
    if (index > this.stableIndex && this.termAt(index) === term) {
      this.stableIndex = Math.min(index, this.lastIndex);
      if (this.role === 'leader') this.maybeCommit();
    }
  }

  /** A leader gives up leadership (without changing term): the driver decided it lost its majority. */
  stepDown(): void {
    if (this.role === 'leader') this.becomeFollower(this.term, null);
  }

  /** Whether the state machine has applied an entry of this leader's own term (so it reflects every earlier commit). */
  appliedInCurrentTerm(): boolean {
    return this.role === 'leader' && this.termAt(this.appliedIndex) === this.term;
  }

  /** Per-follower replication state while leading (for status pages and debugging). */
  progressSummary(): Record<NodeId, { match: number; next: number; state: string; inflight: number; probes: number }> {
    const summary: Record<NodeId, { match: number; next: number; state: string; inflight: number; probes: number }> = {};
    for (const [peer, progress] of this.progress) {
      summary[peer] = { match: progress.match, next: progress.next, state: progress.state, inflight: progress.inflight.length, probes: progress.probes };
    }
    return summary;
  }

  /** A copy of the retained log (entries after the snapshot), for tests and status. */
  entries(): Entry[] {
    return [...this.log];
  }

  get quorum(): number {
    return Math.floor(this.peers.length / 2) + 1;
  }

  private otherPeers(): NodeId[] {
    return this.peers.filter((peer) => peer !== this.id);
  }

  // ---- driver API ----------------------------------------------------------------------------

  /** One unit of logical time. */
  tick(): void {
    if (this.role === 'leader') {
      this.tickLeader();
    } else {
      this.electionElapsed++;
      if (this.electionElapsed >= this.randomizedElectionTimeout) {
        this.electionElapsed = 0;
        this.campaign();
      } else if (this.role === 'candidate') {
        this.retryVoteRequests();
      }
    }
  }

  /**
   * The paper retries an RPC that got no answer: every tick of its candidacy, a candidate asks again every peer
   * that has not granted its vote (a request to a crashed or unreachable peer was dropped). A vote request is
   * idempotent: a peer that refused because it already voted in this term refuses again, since its vote is
   * durable, so asking again is safe. Only a peer that forgot its vote (--bug forget-vote) could now answer
   * differently, which is how the harness sees that bug.
   */
  private retryVoteRequests(): void {
    for (const peer of this.otherPeers()) {
      if (this.votes.get(peer) === true) continue;
      this.send({ type: 'vote', from: this.id, to: peer, term: this.term, lastLogIndex: this.lastIndex, lastLogTerm: this.lastTerm });
    }
  }

  /**
   * Appends a command to the leader's log. Returns where it will sit, or null when this node does not lead
   * (the caller forwards or redirects to `leader`).
   */
  propose(data: unknown): { index: number; term: number } | null {
    if (this.role !== 'leader') return null;
    const entry: Entry = { index: this.lastIndex + 1, term: this.term, data };
    this.appendToLog([entry]);
    this.maybeCommit();
    // Batching: every proposal until the next takeReady goes out in one append per follower.
    this.appendWanted = true;
    return { index: entry.index, term: entry.term };
  }

  /**
   * Asks for a linearizable read point (ReadIndex). Returns false when this node does not lead. The read
   * comes back in a later Ready's readStates once a quorum has confirmed this node still leads.
   */
  readIndex(context: unknown): boolean {
    if (this.role !== 'leader') return false;
    if (this.termAt(this.commitIndex) !== this.term) {
      // Section 8: the commit index is only known once an entry of this term commits (the no-op).
      this.readsAwaitingTermCommit.push(context);
      return true;
    }
    this.registerRead(context);
    return true;
  }

  /** Discards entries up to `index` (already applied) in favour of a snapshot of the state machine. */
  compact(index: number, data: unknown): void {
    if (index <= this.snapshot.index) return;
    if (index > this.appliedIndex) throw new Error(`raft: compact to ${index} beyond applied ${this.appliedIndex}`);
    const term = this.termAt(index);
    if (term === undefined) throw new Error(`raft: compact to ${index}: no term known`);
    this.log = this.log.slice(index - this.snapshot.index);
    this.snapshot = { index, term, data };
  }

  /** The snapshot this node would send (for tests and the driver's bookkeeping). */
  currentSnapshot(): Snapshot {
    return this.snapshot;
  }

  /** Highest heartbeat sequence a quorum has acknowledged in this leader's term (for lease bookkeeping). */
  quorumAckedSequence(): number {
    if (this.role !== 'leader') return 0;
    const acked = this.peers.map((peer) => (peer === this.id ? this.heartbeatSequence : this.progress.get(peer)!.ackedSequence));
    acked.sort((a, b) => b - a);
    return acked[this.quorum - 1];
  }
  /** The sequence number the next heartbeat broadcast will carry. */
  nextHeartbeatSequence(): number {
    return this.heartbeatSequence + 1;
  }

  hasReady(): boolean {
    this.flushHeartbeat();
    return (
      this.outEntries.length > 0 ||
      this.outHardStateDirty ||
      this.outSnapshot !== null ||
      this.outMessages.length > 0 ||
      this.outSnapshotToApply !== null ||
      this.commitIndex > this.appliedIndex ||
      this.outReadStates.length > 0 ||
      this.outFailedReads.length > 0
    );
  }

  /** Drains everything the driver must persist, send and apply, in that order. */
  takeReady(): Ready {
    this.flushHeartbeat();
    const committed: Entry[] = [];
    let from = this.appliedIndex + 1;
    if (this.outSnapshotToApply) from = Math.max(from, this.outSnapshotToApply.index + 1);
    for (let index = from; index <= this.commitIndex; index++) {
      const entry = this.entryAt(index);
      if (!entry) throw new Error(`raft ${this.id}: committed entry ${index} missing (snapshot ${this.snapshot.index})`);
      committed.push(entry);
    }
    this.appliedIndex = Math.max(this.appliedIndex, this.commitIndex);
    const ready: Ready = {
      entries: this.outEntries,
      hardState: this.outHardStateDirty ? { term: this.term, votedFor: this.votedFor } : null,
      snapshot: this.outSnapshot,
      messages: this.outMessages,
      snapshotToApply: this.outSnapshotToApply,
      committed,
      readStates: this.outReadStates,
      failedReads: this.outFailedReads,
    };
    this.outEntries = [];
    this.outHardStateDirty = false;
    this.outSnapshot = null;
    this.outMessages = [];
    this.outSnapshotToApply = null;
    this.outReadStates = [];
    this.outFailedReads = [];
    return ready;
  }

  /** Handles one message from a peer. */
  step(message: Message): void {
    if (message.to !== this.id || !this.peers.includes(message.from)) return;
    if (message.term > this.term) {
      if (message.type === 'pre-vote' || message.type === 'vote') {
        // CheckQuorum's leader lease: while a leader is heard from, a disruptive candidate is ignored.
        const inLease =
          this.config.checkQuorum && this.leader !== null && this.electionElapsed < this.config.electionTicks;
        if (inLease) return;
      }
      if (message.type === 'pre-vote') {
        // A pre-vote never changes the receiver's term.
      } else if (message.type === 'pre-vote-response' && message.granted) {
        // Granted pre-votes carry the term the candidate will campaign at.
      } else {
        const leader = message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot' ? message.from : null;
        this.becomeFollower(message.term, leader);
      }
    } else if (message.term < this.term) {
      if (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot') {
        // A deposed leader (which PreVote and CheckQuorum may leave unaware) learns the new term.
        this.send({ type: 'append-response', from: this.id, to: message.from, term: this.term, success: false, index: 0, hintIndex: 0, hintTerm: 0 });
      } else if (message.type === 'pre-vote') {
        this.send({ type: 'pre-vote-response', from: this.id, to: message.from, term: this.term, granted: false });
      }
      return;
    }

    switch (message.type) {
      case 'pre-vote':
      case 'vote':
        this.handleVoteRequest(message);
        return;
      case 'pre-vote-response':
      case 'vote-response':
        this.handleVoteResponse(message);
        return;
      case 'append':
        this.becomeFollowerOf(message.from);
        this.handleAppend(message);
        return;
      case 'heartbeat':
        this.becomeFollowerOf(message.from);
        this.commitTo(Math.min(message.commit, this.lastIndex));
        this.send({ type: 'heartbeat-response', from: this.id, to: message.from, term: this.term, sequence: message.sequence, sentIndex: message.sentIndex, lastIndex: this.lastIndex });
        return;
      case 'snapshot':
        this.becomeFollowerOf(message.from);
        this.handleSnapshot(message);
        return;
      case 'append-response':
        if (this.role === 'leader') this.handleAppendResponse(message);
        return;
      case 'heartbeat-response':
        if (this.role === 'leader') this.handleHeartbeatResponse(message);
        return;
      case 'snapshot-response':
        if (this.role === 'leader') this.handleSnapshotResponse(message);
        return;
    }
  }

  // ---- elections -----------------------------------------------------------------------------

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.config.electionTicks + Math.floor(this.config.random() * this.config.electionTicks);
  }

  private campaign(): void {
    if (this.config.preVote) {
      this.becomePreCandidate();
    } else {
      this.becomeCandidate();
    }
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    if (term > this.term) {
      this.term = term;
      this.votedFor = null;
      this.outHardStateDirty = true;
    }
    this.failLeaderReads();
    this.role = 'follower';
    this.leader = leader;
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
  }

  /** A current-term message from `leader`: follow it (a candidate in the same term concedes). */
  private becomeFollowerOf(leader: NodeId): void {
    if (this.role !== 'follower' || this.leader !== leader) this.becomeFollower(this.term, leader);
    this.electionElapsed = 0;
  }

  private becomePreCandidate(): void {
    this.failLeaderReads();
    this.role = 'pre-candidate';
    this.leader = null;
    this.votes = new Map([[this.id, true]]);
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
    if (this.tallyVotes() === 'won') return this.becomeCandidate();
    for (const peer of this.otherPeers()) {
      this.send({ type: 'pre-vote', from: this.id, to: peer, term: this.term + 1, lastLogIndex: this.lastIndex, lastLogTerm: this.lastTerm });
    }
  }

  private becomeCandidate(): void {
    this.failLeaderReads();
    this.role = 'candidate';
    this.term++;
    this.votedFor = this.id;
    this.outHardStateDirty = true;
    this.leader = null;
    this.votes = new Map([[this.id, true]]);
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
    if (this.tallyVotes() === 'won') return this.becomeLeader();
    for (const peer of this.otherPeers()) {
      this.send({ type: 'vote', from: this.id, to: peer, term: this.term, lastLogIndex: this.lastIndex, lastLogTerm: this.lastTerm });
    }
  }

  private becomeLeader(): void {
    this.role = 'leader';
    this.leader = this.id;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.progress = new Map();
    for (const peer of this.otherPeers()) {
      this.progress.set(peer, {
        match: 0,
        next: this.lastIndex + 1,
        state: 'probe',
        paused: false,
        inflight: [],
        pendingSnapshot: 0,
        recentActive: true,
        ackedSequence: 0,
        probes: 0,
      });
    }
    this.pendingReads = [];
    this.readsAwaitingTermCommit = [];
    // The no-op lets the leader commit (and so learn) everything earlier terms left uncommitted.
    this.propose(null);
  }

  private logUpToDate(lastLogIndex: number, lastLogTerm: number): boolean {
    return lastLogTerm > this.lastTerm || (lastLogTerm === this.lastTerm && lastLogIndex >= this.lastIndex);
  }

  private handleVoteRequest(message: Extract<Message, { type: 'pre-vote' | 'vote' }>): void {
    const upToDate = this.logUpToDate(message.lastLogIndex, message.lastLogTerm);
    if (message.type === 'pre-vote') {
      // Granted when a real election at message.term could be won with this vote: no leader heard from
      // recently (checked in step) and an up-to-date log.
      const granted = upToDate && (message.term > this.term || (this.leader === null && (this.votedFor === null || this.votedFor === message.from)));
      this.send({ type: 'pre-vote-response', from: this.id, to: message.from, term: granted ? message.term : this.term, granted });
      return;
    }
    const canVote = this.votedFor === message.from || (this.votedFor === null && this.leader === null);
    const granted = canVote && upToDate;
    if (granted) {
      this.votedFor = message.from;
      this.outHardStateDirty = true;
      this.electionElapsed = 0;
    }
    this.send({ type: 'vote-response', from: this.id, to: message.from, term: this.term, granted });
  }

  private handleVoteResponse(message: Extract<Message, { type: 'pre-vote-response' | 'vote-response' }>): void {
    if (message.type === 'pre-vote-response' && this.role !== 'pre-candidate') return;
    if (message.type === 'vote-response' && this.role !== 'candidate') return;
    if (message.type === 'pre-vote-response' && message.granted && message.term !== this.term + 1) return;
    this.votes.set(message.from, message.granted);
    const outcome = this.tallyVotes();
    if (outcome === 'won') {
      if (this.role === 'pre-candidate') this.becomeCandidate();
      else this.becomeLeader();
    } else if (outcome === 'lost') {
      this.becomeFollower(this.term, null);
    }
  }

  private tallyVotes(): 'won' | 'lost' | 'pending' {
    let granted = 0;
    let rejected = 0;
    for (const vote of this.votes.values()) {
      if (vote) granted++;
      else rejected++;
    }
    if (granted >= this.quorum) return 'won';
    if (rejected >= this.quorum) return 'lost';
    return 'pending';
  }

  // ---- replication: follower side -------------------------------------------------------------

  private handleAppend(message: Extract<Message, { type: 'append' }>): void {
    const respond = (fields: { success: boolean; index: number; hintIndex: number; hintTerm: number }) =>
      this.send({ type: 'append-response', from: this.id, to: message.from, term: this.term, ...fields });
    if (message.prevIndex < this.commitIndex) {
      // Everything up to the commit index already matches any leader of this term.
      respond({ success: true, index: this.commitIndex, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const localTerm = this.termAt(message.prevIndex);
    if (localTerm !== message.prevTerm) {
      let hintIndex: number;
      let hintTerm: number;
      if (message.prevIndex > this.lastIndex) {
        hintIndex = this.lastIndex + 1;
        hintTerm = 0;
      } else {
        // Skip the whole conflicting term in one round trip.
        hintTerm = localTerm ?? 0;
        hintIndex = message.prevIndex;
        while (hintIndex - 1 > this.commitIndex && this.termAt(hintIndex - 1) === hintTerm) hintIndex--;
      }
      respond({ success: false, index: message.prevIndex, hintIndex, hintTerm });
      return;
    }
    let newEntries: Entry[] = [];
    for (let position = 0; position < message.entries.length; position++) {
      const entry = message.entries[position];
      const existing = this.termAt(entry.index);
      if (existing === undefined || existing !== entry.term) {
        if (existing !== undefined && entry.index <= this.commitIndex) {
          throw new Error(`raft ${this.id}: leader ${message.from} overwrites committed entry ${entry.index}`);
        }
        newEntries = message.entries.slice(position);
        break;
      }
    }
    if (newEntries.length > 0) this.appendToLog(newEntries);
    const lastNew = message.prevIndex + message.entries.length;
    this.commitTo(Math.min(message.commit, lastNew));
    respond({ success: true, index: lastNew, hintIndex: 0, hintTerm: 0 });
  }

  private handleSnapshot(message: Extract<Message, { type: 'snapshot' }>): void {
    const snapshot = message.snapshot;
    if (snapshot.index <= this.commitIndex) {
      this.send({ type: 'snapshot-response', from: this.id, to: message.from, term: this.term, index: this.commitIndex });
      return;
    }
    if (this.termAt(snapshot.index) === snapshot.term) {
      // The log already holds the snapshot's last entry: the snapshot only tells us it is committed.
      this.commitTo(snapshot.index);
    } else {
      this.snapshot = snapshot;
      this.log = [];
      this.stableIndex = snapshot.index;
      this.outEntries = [];
      this.outSnapshot = snapshot;
      this.outSnapshotToApply = snapshot;
      this.commitIndex = snapshot.index;
      this.appliedIndex = snapshot.index;
    }
    this.send({ type: 'snapshot-response', from: this.id, to: message.from, term: this.term, index: snapshot.index });
  }

  private appendToLog(entries: Entry[]): void {
    const first = entries[0].index;
    if (first <= this.snapshot.index) throw new Error(`raft ${this.id}: append at ${first} inside snapshot ${this.snapshot.index}`);
    if (first > this.lastIndex + 1) throw new Error(`raft ${this.id}: append at ${first} leaves a gap after ${this.lastIndex}`);
    this.log.length = first - this.snapshot.index - 1;
    if (this.stableIndex >= first) this.stableIndex = first - 1;
    for (const entry of entries) this.log.push(entry);
    // Entries not yet handed to the driver that the new ones replace are dropped from the output too.
    while (this.outEntries.length > 0 && this.outEntries[this.outEntries.length - 1].index >= first) this.outEntries.pop();
    for (const entry of entries) this.outEntries.push(entry);
  }

  private commitTo(index: number): void {
    if (index > this.commitIndex) {
      this.commitIndex = index;
      if (this.role === 'leader') this.releaseReadsAwaitingTermCommit();
    }
  }

  // ---- replication: leader side ---------------------------------------------------------------

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) {
        let active = 1;
        for (const progress of this.progress.values()) {
          if (progress.recentActive) active++;
          progress.recentActive = false;
        }
        if (active < this.quorum && this.config.checkQuorumStepDown) {
          // CheckQuorum: a leader cut off from its majority steps down rather than serve in isolation.
          this.becomeFollower(this.term, null);
          return;
        }
      }
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.heartbeatWanted = true;
      for (const progress of this.progress.values()) {
        if (progress.state === 'probe') progress.paused = false;
      }
    }
  }

  private flushHeartbeat(): void {
    if (this.appendWanted) {
      this.appendWanted = false;
      if (this.role === 'leader') this.broadcastAppend();
    }
    if (!this.heartbeatWanted || this.role !== 'leader') {
      this.heartbeatWanted = false;
      return;
    }
    this.heartbeatWanted = false;
    this.heartbeatSequence++;
    for (const [peer, progress] of this.progress) {
      this.send({ type: 'heartbeat', from: this.id, to: peer, term: this.term, commit: Math.min(this.commitIndex, progress.match), sequence: this.heartbeatSequence, sentIndex: progress.next - 1 });
    }
    this.maybeReleaseReads();
  }

  private broadcastAppend(): void {
    for (const peer of this.progress.keys()) this.sendAppend(peer);
  }

  /** Sends what the peer is missing, if its flow-control state allows; returns whether anything was sent. */
  private sendAppend(peer: NodeId, sendEmpty = false): boolean {
    const progress = this.progress.get(peer)!;
    if (progress.state === 'snapshot') return false;
    if (progress.state === 'probe' && progress.paused) return false;
    if (progress.state === 'replicate' && progress.inflight.length >= this.config.maxInflightMessages) return false;
    const prevIndex = progress.next - 1;
    const prevTerm = this.termAt(prevIndex);
    if (prevTerm === undefined) {
      // The peer needs entries compacted away: InstallSnapshot.
      progress.state = 'snapshot';
      progress.pendingSnapshot = this.snapshot.index;
      progress.inflight = [];
      this.send({ type: 'snapshot', from: this.id, to: peer, term: this.term, snapshot: this.snapshot });
      return true;
    }
    const last = Math.min(this.lastIndex, prevIndex + this.config.maxEntriesPerMessage);
    // A probe always goes out (even empty): its answer tells where the follower's log diverges.
    if (last <= prevIndex && !sendEmpty && progress.state === 'replicate') return false;
    const entries = last > prevIndex ? this.log.slice(prevIndex + 1 - this.firstIndex, last + 1 - this.firstIndex) : [];
    this.send({ type: 'append', from: this.id, to: peer, term: this.term, prevIndex, prevTerm, entries, commit: this.commitIndex });
    if (progress.state === 'replicate') {
      if (entries.length > 0) {
        progress.next = last + 1;
        progress.inflight.push(last);
      }
    } else {
      progress.paused = true;
    }
    return true;
  }

  private handleAppendResponse(message: Extract<Message, { type: 'append-response' }>): void {
    const progress = this.progress.get(message.from);
    if (!progress) return;
    progress.recentActive = true;
    if (!message.success) {
      if (message.index === 0 && message.hintIndex === 0) return; // only a term notice, handled in step
      const stale = progress.state === 'replicate' ? message.index <= progress.match : message.index !== progress.next - 1;
      if (stale) return;
      let next = message.hintIndex;
      if (message.hintTerm > 0) {
        // If we hold entries of the follower's conflicting term, resume after our last one of that term.
        for (let index = Math.min(message.index, this.lastIndex); index > this.snapshot.index; index--) {
          const term = this.termAt(index)!;
          if (term === message.hintTerm) {
            next = index + 1;
            break;
          }
          if (term < message.hintTerm) break;
        }
      }
      progress.next = Math.max(progress.match + 1, Math.min(next, message.index));
      progress.state = 'probe';
      progress.probes++;
      progress.paused = false;
      progress.inflight = [];
      this.sendAppend(message.from);
      return;
    }
    if (message.index > progress.match) {
      progress.match = message.index;
      progress.next = Math.max(progress.next, message.index + 1);
      if (progress.state === 'probe') {
        progress.state = 'replicate';
        progress.inflight = [];
      } else if (progress.state === 'snapshot' && progress.match >= progress.pendingSnapshot) {
        progress.state = 'replicate';
        progress.inflight = [];
      }
      this.maybeCommit();
    } else if (progress.state === 'probe') {
      progress.paused = false;
    }
    while (progress.inflight.length > 0 && progress.inflight[0] <= message.index) progress.inflight.shift();
    // Keep the pipeline full.
    while (this.sendAppend(message.from)) {
      if (progress.state !== 'replicate') break;
    }
  }

  private handleSnapshotResponse(message: Extract<Message, { type: 'snapshot-response' }>): void {
    const progress = this.progress.get(message.from);
    if (!progress) return;
    progress.recentActive = true;
    if (message.index > progress.match) progress.match = message.index;
    progress.next = Math.max(progress.next, progress.match + 1);
    progress.state = 'probe';
      progress.probes++;
    progress.paused = false;
    progress.inflight = [];
    this.maybeCommit();
    this.sendAppend(message.from);
  }

  private handleHeartbeatResponse(message: Extract<Message, { type: 'heartbeat-response' }>): void {
    const progress = this.progress.get(message.from);
    if (!progress) return;
    progress.recentActive = true;
    progress.ackedSequence = Math.max(progress.ackedSequence, message.sequence);
    this.maybeReleaseReads();
    if (progress.state === 'snapshot') {
      // The snapshot (or its answer) may have been lost: offer it again.
      if (message.lastIndex < progress.pendingSnapshot) {
        this.send({ type: 'snapshot', from: this.id, to: message.from, term: this.term, snapshot: this.snapshot });
      } else {
        progress.state = 'probe';
      progress.probes++;
        progress.paused = false;
      }
    } else if (message.lastIndex < progress.match) {
      // The follower lost entries it acknowledged: only with a lying disk (--bug lazy-fsync). Start over
      // from what it has, or replication would stall forever.
      progress.match = message.lastIndex;
      progress.state = 'probe';
      progress.probes++;
      progress.paused = false;
      progress.next = progress.match + 1;
      progress.inflight = [];
    } else if (progress.state === 'replicate' && message.lastIndex < message.sentIndex && progress.match < message.sentIndex) {
      // An append sent before this heartbeat never arrived (a dropped connection): resend from match.
      progress.state = 'probe';
      progress.probes++;
      progress.paused = false;
      progress.next = progress.match + 1;
      progress.inflight = [];
    }
    if (progress.state === 'replicate' && progress.match < progress.next - 1) {
      // Acknowledgements may have been lost: an empty append at the pipeline's end asks again for them.
      if (progress.inflight.length >= this.config.maxInflightMessages) progress.inflight.shift();
      this.sendAppend(message.from, true);
    } else if (progress.match < this.lastIndex) {
      this.sendAppend(message.from);
    }
  }

  private maybeCommit(): void {
    const matches = this.peers.map((peer) => (peer === this.id ? this.stableIndex : this.progress.get(peer)!.match));
    matches.sort((a, b) => b - a);
    const candidate = matches[this.quorum - 1];
    // Only entries of the current term commit by counting replicas (Figure 8).
    if (candidate > this.commitIndex && this.termAt(candidate) === this.term) {
      this.commitTo(candidate);
      // Tell idle followers at once; busy pipelines carry the new commit index in their next append.
      for (const [peer, progress] of this.progress) {
        if (progress.state === 'replicate' && progress.inflight.length === 0) this.sendAppend(peer, true);
      }
    }
  }

  // ---- ReadIndex -----------------------------------------------------------------------------

  private registerRead(context: unknown): void {
    if (this.peers.length === 1) {
      this.outReadStates.push({ context, index: this.commitIndex });
      return;
    }
    this.pendingReads.push({ context, index: this.commitIndex, sequence: this.heartbeatSequence + 1 });
    this.heartbeatWanted = true;
  }

  private releaseReadsAwaitingTermCommit(): void {
    if (this.readsAwaitingTermCommit.length === 0 || this.termAt(this.commitIndex) !== this.term) return;
    const contexts = this.readsAwaitingTermCommit;
    this.readsAwaitingTermCommit = [];
    for (const context of contexts) this.registerRead(context);
  }

  private maybeReleaseReads(): void {
    if (this.pendingReads.length === 0) return;
    const acked = this.quorumAckedSequence();
    let released = 0;
    while (released < this.pendingReads.length && this.pendingReads[released].sequence <= acked) released++;
    for (const read of this.pendingReads.splice(0, released)) this.outReadStates.push({ context: read.context, index: read.index });
  }

  private failLeaderReads(): void {
    for (const read of this.pendingReads) this.outFailedReads.push(read.context);
    for (const context of this.readsAwaitingTermCommit) this.outFailedReads.push(context);
    this.pendingReads = [];
    this.readsAwaitingTermCommit = [];
  }

  private send(message: Message): void {
    this.outMessages.push(message);
  }
}
