// Type declarations of pulsar-producer (CommonJS entry; index.d.mts
// re-exports them for ESM). Option names and meanings are the library's
// (core/engine/optiontable.go); durations are in milliseconds.

/// <reference types="node" />

/** What a message carries: bytes, a string (sent as UTF-8), or null for a null value (a tombstone). */
export type Payload = Uint8Array | ArrayBufferView | ArrayBuffer | string | null;

/** A point in time: a Date or milliseconds since the epoch. */
export type Time = Date | number;

export type CompressionType = 'none' | 'lz4' | 'zlib' | 'zstd' | 'snappy';
export type RoutingMode = 'roundRobin' | 'singlePartition';
export type HashingScheme = 'javaStringHash' | 'murmur3_32Hash';
export type AccessMode = 'shared' | 'exclusive' | 'waitForExclusive' | 'exclusiveWithFencing';

/** Options of the library, by their camelCase names. Unknown names are rejected (InvalidConfiguration). */
export interface LibraryOptions {
  /** Bounds a TCP connect plus the protocol handshake (ms, default 10000). */
  connectionTimeout?: number;
  /** Bounds a lookup or producer registration request (ms, default 30000). */
  operationTimeout?: number;
  /** How often an idle connection is probed (ms, default 30000). */
  keepAliveInterval?: number;
  /** Bounds the payload bytes of all pending messages; negative means no limit (default 64 MiB). */
  memoryLimitBytes?: number;
  /** How many lookup redirects are followed (default 20). */
  maxLookupRedirects?: number;
  /** The first delay before reconnecting (ms, default 100). */
  initialBackoff?: number;
  /** Caps the reconnect delay (ms, default 60000). */
  maxBackoff?: number;
  /** Asks lookups for a named advertised listener. */
  listenerName?: string;
  /** The producer's name on the topic; assigned by the broker by default. */
  producerName?: string;
  /** String properties of the producer, visible in topic stats. */
  properties?: Record<string, string>;
  /** Fails a message not acknowledged in time (ms, default 30000; negative disables). */
  sendTimeout?: number;
  /** Bounds the messages awaiting acknowledgement (default 0: no bound besides memoryLimitBytes). */
  maxPendingMessages?: number;
  /** Makes a send wait (asynchronously) for room instead of failing with ProducerQueueIsFull or MemoryBufferIsFull. */
  blockIfQueueFull?: boolean;
  /** Sends every message as its own entry. */
  disableBatching?: boolean;
  /** Closes a batch at this many messages (default 1000). */
  batchingMaxMessages?: number;
  /** Closes a batch at this many bytes (default 131072). */
  batchingMaxBytes?: number;
  /** Sends a batch this long after its first message at the latest (ms, default 1). */
  batchingMaxPublishDelay?: number;
  /** Compresses each entry (default 'none'). */
  compressionType?: CompressionType;
  /** The first message gets this sequence ID plus one. */
  initialSequenceId?: number;
  /** Picks the partition of keyless messages on a partitioned topic. */
  routingMode?: RoutingMode;
  /** Picks the partition of keyed messages. */
  hashingScheme?: HashingScheme;
  /** Claims shared or exclusive access to the topic. */
  accessMode?: AccessMode;
}

export interface ProducerOptions extends LibraryOptions {
  /** Such as "pulsar://localhost:6650". */
  serviceUrl: string;
  /** Such as "persistent://public/default/my-topic", or just "my-topic". */
  topic: string;
}

/** Per-message options of send(). */
export interface SendOptions {
  /** The partition key (also what compaction and Key_Shared group by). */
  key?: string;
  /** Replaces the key for Key_Shared ordering. */
  orderingKey?: string | Uint8Array;
  /** String properties of the message. */
  properties?: Record<string, string>;
  /** An application timestamp. */
  eventTime?: Time;
  /** Delays delivery to Shared subscriptions until then. */
  deliverAt?: Time;
  /** Delays delivery by this many milliseconds. */
  deliverAfter?: number;
  /** Overrides the automatic sequence ID (used for deduplication). */
  sequenceId?: number | bigint;
  /** Restricts geo-replication to these clusters. */
  replicationClusters?: string[];
  /** Keeps the message in the local cluster. */
  disableReplication?: boolean;
}

/** A wait bounded in milliseconds (default 30000). */
export interface TimeoutOptions {
  timeoutMs?: number;
}

/** Where a message was stored. */
export class MessageId {
  constructor(ledgerId: number, entryId: number, partition?: number, batchIndex?: number, batchSize?: number);
  readonly ledgerId: number;
  readonly entryId: number;
  /** The partition index; -1 for a non-partitioned topic. */
  readonly partition: number;
  /** Index in its batch; -1 when the message was sent alone. */
  readonly batchIndex: number;
  /** Messages in its batch; 0 when the message was sent alone. */
  readonly batchSize: number;
  /** "ledger:entry:partition", plus ":batchIndex" for a batched message. */
  toString(): string;
  equals(other: unknown): boolean;
  /** MessageIdData bytes, as the official clients read them. */
  serialize(): Buffer;
  /** Reads MessageIdData bytes (from serialize() or an official client). */
  static deserialize(data: Uint8Array): MessageId;
}

/** A producer on one topic. Create with Producer.create(); free with close(). */
export class Producer {
  private constructor();
  /** Connects and registers a producer; resolves when it is ready. */
  static create(options: ProducerOptions): Promise<Producer>;
  readonly topic: string;
  readonly serviceUrl: string;
  /** The producer's name: the producerName option, or the one the broker assigned. */
  readonly name: string;
  /** The topic's partition count: 0 for a topic that is not partitioned. */
  readonly partitions: number;
  /** Sends whose promise has not settled yet. */
  readonly pendingCount: number;
  /** True once close() was called. */
  readonly closed: boolean;
  /** Publishes a message; resolves with its MessageId once the broker stored it. */
  send(data: Payload, options?: SendOptions): Promise<MessageId>;
  /** Sends open batches now; resolves once every earlier send has settled. */
  flush(options?: TimeoutOptions): Promise<void>;
  /** Waits for pending sends (up to timeoutMs), closes and frees the producer. Idempotent. */
  close(options?: TimeoutOptions): Promise<void>;
}

/** Who is at fault for a result. */
export type ResultKind = 'none' | 'usage' | 'broker' | 'network';

/** One row of the library's result table. */
export interface ResultInfo {
  result: number;
  /** Stable CamelCase name, such as "AlreadyClosed". */
  name: string;
  kind: ResultKind;
  retriable: boolean;
  description: string;
}

/** Every failure of this package. `name` is the result's stable name (such as "Timeout"). */
export class PulsarError extends Error {
  constructor(code: number, message?: string);
  /** The library's numeric result (pp_result). */
  readonly code: number;
  readonly kind: ResultKind | 'unknown';
  /** True if retrying the same operation may succeed. */
  readonly retriable: boolean;
}

/** Result codes by name, generated from the library's table: Result.AlreadyClosed === 15. */
export const Result: Readonly<Record<string, number>>;

/** A PulsarError subclass per result, by name: `err instanceof errors.Timeout`. */
export const errors: Readonly<Record<string, new (message?: string) => PulsarError>>;

/** The table row of a result code. */
export function resultInfo(code: number): ResultInfo | undefined;

/** Every row of the library's result table, in numeric order. */
export function resultTable(): ResultInfo[];

/** This package's version. */
export const version: string;
/** The loaded library's version. */
export const libraryVersion: string;
/** The file the library was loaded from. */
export const libraryPath: string;
