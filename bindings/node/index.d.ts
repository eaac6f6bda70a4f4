// Type declarations of pulsar-producer (CommonJS entry; index.d.mts
// re-exports them for ESM). Option names and meanings are the library's
// (docs/OPTIONS.md); durations are in milliseconds. Integer options and
// 64-bit message fields also take a bigint.

/// <reference types="node" />
import { EventEmitter } from 'node:events';

/** What a message carries: bytes, a string (sent as UTF-8), or null for a null value (a tombstone). */
export type Payload = Uint8Array | ArrayBufferView | ArrayBuffer | string | null;

/** A point in time: a Date, or milliseconds since the epoch. */
export type Time = Date | number | bigint;
export type Int = number | bigint;

export type LogLevel = 'warn' | 'error' | 'info' | 'debug' | 'off';
export type CompressionType = 'none' | 'lz4' | 'zlib' | 'zstd' | 'snappy';
export type RoutingMode = 'roundRobin' | 'singlePartition';
export type HashingScheme = 'javaStringHash' | 'murmur3_32Hash';
export type AccessMode = 'shared' | 'exclusive' | 'waitForExclusive' | 'exclusiveWithFencing';
export type BatcherType = 'default' | 'keyBased';

/** A schema type, as the Java client and the admin API name it (any case is accepted). */
export type SchemaType = 'BYTES' | 'STRING' | 'JSON' | 'PROTOBUF' | 'AVRO' | 'BOOLEAN' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FLOAT' | 'DOUBLE' | 'DATE' | 'TIME' | 'TIMESTAMP' | 'KEY_VALUE' | 'INSTANT' | 'LOCAL_DATE' | 'LOCAL_TIME' | 'LOCAL_DATE_TIME' | 'PROTOBUF_NATIVE' | 'bytes' | 'string' | 'json' | 'protobuf' | 'avro' | 'boolean' | 'int8' | 'int16' | 'int32' | 'int64' | 'float' | 'double' | 'date' | 'time' | 'timestamp' | 'key_value' | 'instant' | 'local_date' | 'local_time' | 'local_date_time' | 'protobuf_native';

/** A schema with its registry details; for KEY_VALUE, its two halves. */
export interface SchemaObject {
  type: SchemaType;
  /** The name in the registry (default: the type's name). */
  name?: string;
  /** AVRO and JSON: the Avro schema, as JSON text or as an object (JSON.stringify'd); PROTOBUF: the Java client's definition. */
  definition?: string | object;
  properties?: Record<string, string>;
  key?: Schema;
  value?: Schema;
  /** Where a KEY_VALUE message's key goes: in the payload (INLINE, the default) or the message key (SEPARATED). */
  keyValueEncoding?: 'INLINE' | 'SEPARATED' | 'inline' | 'separated';
}

/** The schema option: a type name or a schema object. */
export type Schema = SchemaType | SchemaObject;

/** Options of a client, shared by its producers: see docs/OPTIONS.md (durations in ms). */
export interface ClientLibraryOptions {
  connectionTimeout?: Int;
  operationTimeout?: Int;
  keepAliveInterval?: Int;
  memoryLimitBytes?: Int;
  maxLookupRedirects?: Int;
  initialBackoff?: Int;
  maxBackoff?: Int;
  listenerName?: string;
  logLevel?: LogLevel;
  tlsTrustCertsFilePath?: string;
  tlsValidateHostname?: boolean;
  tlsAllowInsecureConnection?: boolean;
  tlsCertificateFilePath?: string;
  tlsKeyFilePath?: string;
  authToken?: string;
  authTokenFile?: string;
  /** issuerUrl, privateKey, and optional audience and scope. */
  authOAuth2?: Record<string, string>;
}

/**
 * A token, or a function returning one, called (on the main thread) for each
 * new connection and each time a broker asks for fresh credentials; it must
 * return the token synchronously.
 */
export type Auth = string | (() => string);

/** Options of a producer: see docs/OPTIONS.md (durations in ms). */
export interface ProducerLibraryOptions {
  producerName?: string;
  properties?: Record<string, string>;
  schema?: Schema;
  sendTimeout?: Int;
  maxPendingMessages?: Int;
  blockIfQueueFull?: boolean;
  disableBatching?: boolean;
  batchingMaxMessages?: Int;
  batchingMaxBytes?: Int;
  batchingMaxPublishDelay?: Int;
  batcherType?: BatcherType;
  compressionType?: CompressionType;
  initialSequenceId?: Int;
  routingMode?: RoutingMode;
  hashingScheme?: HashingScheme;
  partitionsAutoDiscoveryInterval?: Int;
  lazyStartPartitionedProducers?: boolean;
  accessMode?: AccessMode;
  chunkingEnabled?: boolean;
  chunkMaxMessageSize?: Int;
  startupDelay?: Int;
  startupJitter?: Int;
  createTimeout?: Int;
}

export interface ClientOptions extends ClientLibraryOptions {
  /** Such as "pulsar://localhost:6650", or "pulsar://h1:6650,h2:6650". */
  serviceUrl: string;
  /** A token (as authToken), or a function returning the token. */
  auth?: Auth;
  /**
   * What runs the client: 'native' (the C library through koffi), 'wasi'
   * (the WebAssembly module under node:wasi, no native code) or 'auto'.
   * Defaults to the PULSAR_PRODUCER_BACKEND environment variable, else
   * 'auto': native where the library loads (on the main thread), else wasi.
   */
  backend?: Backend;
}

/** The backends a client can run on. */
export type Backend = 'native' | 'wasi' | 'auto';

export interface CreateProducerOptions extends ProducerLibraryOptions {
  /** Such as "persistent://public/default/my-topic", or just "my-topic". */
  topic: string;
  /** Aborting it cancels creation: the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** Picks the partition of every message on a partitioned topic (after the interceptors). */
  router?: Router;
  /** Run in order around every send. */
  interceptors?: ProducerInterceptor[];
}

/**
 * Returns the partition of a message, from 0 to numPartitions - 1 (the
 * producer's partition count, read again at most once a second). A throw
 * fails that message with InvalidArgument; so does a number out of range.
 */
export type Router = (message: OutgoingMessage, numPartitions: number) => number;

/** Sees every message a producer sends. */
export interface ProducerInterceptor {
  /** Runs before the message is queued, on a copy it may change (such as key and properties); a throw rejects the message. */
  beforeSend?(message: OutgoingMessage): void;
  /** Runs with the outcome of every message all beforeSends accepted, before its promise settles (a throw is logged). */
  onAck?(message: OutgoingMessage, id: MessageId | null, error: Error | null): void;
}

export interface ProducerOptions extends ClientOptions, CreateProducerOptions {}

/** Per-message options of send(). */
export interface SendOptions {
  /** The partition key; '' is an empty key, undefined none. */
  key?: string;
  /** Replaces the key for Key_Shared ordering. */
  orderingKey?: string | Uint8Array;
  properties?: Record<string, string>;
  eventTime?: Time;
  /** Delays delivery to Shared subscriptions until then (or by deliverAfter ms). */
  deliverAt?: Time;
  deliverAfter?: Int;
  /** 0 to 2^63-1 (deduplication recognises resends by it). */
  sequenceId?: Int;
  replicationClusters?: string[];
  disableReplication?: boolean;
}

/**
 * A value for the producer's schema: a string (STRING, and LOCAL_DATE,
 * LOCAL_TIME, LOCAL_DATE_TIME as '2024-01-31', '13:45:30.5',
 * '2024-01-31T13:45:30'), a boolean, a number or bigint (integers, FLOAT,
 * DOUBLE), a Date (DATE, TIME, TIMESTAMP, INSTANT), bytes (BYTES, AVRO,
 * PROTOBUF: encoded by the caller), anything JSON.stringify writes (JSON),
 * or a KeyValue (KEY_VALUE).
 */
export type SchemaValue = unknown;

/** The value of a KEY_VALUE schema: both halves are required. */
export interface KeyValue<K = SchemaValue, V = SchemaValue> {
  key: K;
  value: V;
}

/** A message as an object: bytes (data) or a value for the schema, with its send options. */
export type Message = (SendOptions & { data: Payload; value?: never }) | (SendOptions & { value: SchemaValue; data?: never });

/** A message as interceptors and the router see it: what was sent (data or value) with its send options. */
export interface OutgoingMessage extends SendOptions {
  data?: Payload;
  value?: SchemaValue;
}

/** A wait bounded in milliseconds (default 30000). */
export interface TimeoutOptions {
  timeoutMs?: number;
}

/** Counters of a producer or a client (pp_stats). Latencies run from send to receipt. */
export interface Stats {
  msgsSent: number; bytesSent: number; msgsAcked: number; bytesAcked: number; msgsFailed: number; bytesFailed: number;
  /** Accepted and not yet completed. */
  pendingMsgs: number; pendingBytes: number;
  /** Times a partition lost its broker and reconnected. */
  reconnects: number;
  /** Messages measured, and percentiles of send-to-receipt latency in microseconds. */
  latencyCount: number; latencyP50Us: number; latencyP95Us: number; latencyP99Us: number; latencyP999Us: number; latencyMaxUs: number;
  /** Client only (0 for a producer): producers and broker connections open now, connections opened so far. */
  producers: number; connections: number; connects: number;
}

/** A log record of a client: connections, lookups, registrations, reconnects, fencing; never per message. */
export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  time: Date;
  message: string;
  /** The topic or partition concerned, its producer's name, the broker's host:port: '' where none applies. */
  topic: string; producerName: string; broker: string;
  /** The connection's number, 0 for none. */
  connection: number;
}

/** Where a message was stored. */
export class MessageId {
  constructor(ledgerId: number, entryId: number, partition?: number, batchIndex?: number, batchSize?: number, isDuplicate?: boolean,
    firstChunkId?: MessageId | null);
  readonly ledgerId: number;
  readonly entryId: number;
  /** -1 for a non-partitioned topic. */
  readonly partition: number;
  /** The index in its batch and the batch's size; -1 and 0 when the message was sent alone. */
  readonly batchIndex: number;
  readonly batchSize: number;
  /** The broker's deduplication recognised the message as stored already: ledgerId and entryId are -1. */
  readonly isDuplicate: boolean;
  /** The message was sent in chunks: ledgerId and entryId are its last chunk's, firstChunkId its first chunk's. */
  readonly isChunked: boolean;
  readonly firstChunkId: MessageId | null;
  /** "ledger:entry:partition", plus ":batchIndex" for a batched message; "first;last" ("l:e:p;l:e:p") for a chunked one. */
  toString(): string;
  equals(other: unknown): boolean;
  /** MessageIdData bytes, as the official clients read them. */
  serialize(): Buffer;
  static deserialize(data: Uint8Array): MessageId;
}

/** A connection pool to one cluster; its producers share connections, the memory limit and one completion queue. */
export class Client extends EventEmitter {
  private constructor();
  static create(options: ClientOptions): Promise<Client>;
  readonly serviceUrl: string;
  /** The backend the client runs on. */
  readonly backend: 'native' | 'wasi';
  /** True once close() was called. */
  readonly closed: boolean;
  /** Resolves once the producer is registered; rejects with AbortError if options.signal aborts first. */
  createProducer(options: CreateProducerOptions): Promise<Producer>;
  stats(): Stats;
  /** Closes every producer (waiting up to timeoutMs for pending messages) and frees the client. Idempotent. */
  close(options?: TimeoutOptions): Promise<void>;
  /** Log records; with no listener they go to stderr. */
  on(event: 'log', listener: (record: LogRecord) => void): this;
  once(event: 'log', listener: (record: LogRecord) => void): this;
  off(event: 'log', listener: (record: LogRecord) => void): this;
}

/** A producer on one topic. */
export class Producer {
  private constructor();
  /** A producer with a client of its own (client and producer options together); close() closes both. */
  static create(options: ProducerOptions): Promise<Producer>;
  readonly client: Client;
  readonly topic: string;
  /** The producerName option, or the name the broker assigned. */
  readonly name: string;
  /** The topic's partition count (0 for a topic that is not partitioned), read again at most once a second. */
  readonly partitions: number;
  /** Sends whose promise has not settled yet. */
  readonly pendingCount: number;
  /** True once close() was called. */
  readonly closed: boolean;
  /** Publishes a message; resolves with its MessageId once the broker stored it. */
  send(data: Payload, options?: SendOptions): Promise<MessageId>;
  /** Publishes a message object: { value } (converted for the producer's schema) or { data }, with send options. */
  send(message: Message): Promise<MessageId>;
  /** Sends open batches now; resolves once every earlier send has settled. */
  flush(options?: TimeoutOptions): Promise<void>;
  /** Waits for pending sends (up to timeoutMs), closes and frees the producer. Idempotent. */
  close(options?: TimeoutOptions): Promise<void>;
  /** Counters of the producer; after close(), the last ones. */
  stats(): Stats;
}

/** Who is at fault for a result. */
export type ResultKind = 'none' | 'usage' | 'broker' | 'network';

/** One row of the library's result table; name is stable CamelCase, such as "AlreadyClosed". */
export interface ResultInfo { result: number; name: string; kind: ResultKind; retriable: boolean; description: string }

/** Every failure of this package. `name` is the result's stable name (such as "Timeout"). */
export class PulsarError extends Error {
  constructor(code: number, message?: string);
  /** The library's numeric result (pp_result). */
  readonly code: number;
  readonly kind: ResultKind | 'unknown';
  /** True if retrying the same operation may succeed. */
  readonly retriable: boolean;
}

/** What an aborted creation rejects with (name 'AbortError', code 'ABORT_ERR', cause: the signal's reason). */
export class AbortError extends Error {
  constructor(message?: string, options?: { cause?: unknown });
  readonly code: 'ABORT_ERR';
}

/** Result codes by name, generated from the library's table: Result.AlreadyClosed. */
export const Result: Readonly<Record<string, number>>;
/** A PulsarError subclass per result, by name: `err instanceof errors.Timeout`. */
export const errors: Readonly<Record<string, new (message?: string) => PulsarError>>;
export function resultInfo(code: number): ResultInfo | undefined;
export function resultTable(): ResultInfo[];

/** This package's version; the native library's version and file, or null where it does not load. */
export const version: string;
export const libraryVersion: string | null;
export const libraryPath: string | null;
/** The backend a client created without the backend option runs on here. */
export function defaultBackend(): 'native' | 'wasi';
