// A typed usage example, checked by `tsc --noEmit -p test/types` (never
// run): the CommonJS entry's declarations, by the package's name.
import {
  Client, Producer, MessageId, PulsarError, AbortError, Result, errors, resultInfo, ProducerOptions, SendOptions, Stats,
  LogRecord, ProducerInterceptor, Router, OutgoingMessage, Schema, KeyValue, Message, Backend, defaultBackend,
} from 'pulsar-producer';

async function main(): Promise<void> {
  const backend: Backend = defaultBackend() === 'native' ? 'auto' : 'wasi';
  const client: Client = await Client.create({ serviceUrl: 'pulsar://localhost:6650', logLevel: 'info', memoryLimitBytes: 1n << 30n, backend });
  const runsOn: 'native' | 'wasi' = client.backend;
  console.log(runsOn);
  client.on('log', (r: LogRecord) => console.log(r.level, r.message, r.topic, r.producerName, r.broker, r.connection, r.time.getTime()));
  const ac = new AbortController();
  const producer: Producer = await client.createProducer({
    topic: 'persistent://public/default/example',
    batchingMaxMessages: 1000,
    blockIfQueueFull: true,
    compressionType: 'lz4',
    accessMode: 'waitForExclusive',
    createTimeout: 5000,
    properties: { app: 'example' },
    signal: ac.signal,
  });
  const sendOptions: SendOptions = {
    key: '',
    orderingKey: Buffer.from([1, 2]),
    properties: { kind: 'greeting' },
    eventTime: new Date(),
    deliverAfter: 1000,
    sequenceId: 42n,
  };
  const id: MessageId = await producer.send(Buffer.from('hello'), sendOptions);
  await producer.send('text');
  await producer.send(new Uint8Array([1, 2, 3]));
  await producer.send(null, { key: 'deleted' });
  const parts: [number, number, number, number, number, boolean] = [id.ledgerId, id.entryId, id.partition, id.batchIndex, id.batchSize, id.isDuplicate];
  const same: boolean = MessageId.deserialize(id.serialize()).equals(id);
  const stats: Stats = producer.stats();
  const all: number = client.stats().connections + stats.msgsAcked;
  console.log(parts, same, all, producer.pendingCount, producer.topic, producer.name, producer.partitions, producer.client === client);
  await producer.flush({ timeoutMs: 5000 });
  await client.close({ timeoutMs: 1000 });
  const options: ProducerOptions = { serviceUrl: 'pulsar://localhost:6650', topic: 't', logLevel: 'warn', sendTimeout: -1 };
  const single = await Producer.create(options);
  try {
    await single.send('late');
  } catch (e) {
    if (e instanceof PulsarError && e.code === Result.AlreadyClosed) {
      const name: string = e.name;
      const retriable: boolean = e.retriable;
      console.log(name, retriable, resultInfo(e.code)?.description);
    }
    if (e instanceof errors.AlreadyClosed) console.log('closed');
    if (e instanceof AbortError) console.log(e.code);
  }
  await single.close();

  // Credentials: a token, or a function returning one.
  const secured = await Client.create({ serviceUrl: 'pulsar+ssl://localhost:6651', tlsTrustCertsFilePath: '/ca.pem', auth: () => 'token' });
  await Client.create({ serviceUrl: 'pulsar://x', auth: 'a-token' });
  // Schemas, values, routers and interceptors.
  const schema: Schema = { type: 'KEY_VALUE', key: 'INT64', value: { type: 'JSON', definition: { type: 'record', name: 'U', fields: [] } }, keyValueEncoding: 'SEPARATED' };
  const router: Router = (m: OutgoingMessage, n: number) => (m.key === undefined ? 0 : m.key.length % n);
  const tracer: ProducerInterceptor = {
    beforeSend(m) { m.properties = { ...m.properties, 'trace-id': 't-1' }; },
    onAck(m, msgId, err) { console.log(m.properties, msgId?.isChunked, msgId?.firstChunkId?.entryId, err?.message); },
  };
  const typed = await secured.createProducer({ topic: 't', schema, router, interceptors: [tracer], chunkingEnabled: true, batcherType: 'keyBased' });
  const kv: KeyValue<bigint, object> = { key: 42n, value: { name: 'a' } };
  await typed.send({ value: kv, properties: { a: 'b' } });
  await typed.send({ value: new Date(), key: 'k' });
  const msg: Message = { data: Buffer.from('raw'), key: 'k' };
  await typed.send(msg);
  await Producer.create({ serviceUrl: 'pulsar://x', topic: 't', schema: 'string', auth: () => 'token' });
  // @ts-expect-error a message has data or a value, not both
  await typed.send({ data: 'x', value: 'y' });
  // @ts-expect-error a router returns a number
  await secured.createProducer({ topic: 't', router: () => 'p0' });
  // @ts-expect-error an unknown schema type
  await secured.createProducer({ topic: 't', schema: 'STRINGS' });
  // @ts-expect-error auth is a client option
  await secured.createProducer({ topic: 't', auth: 'x' });
  // @ts-expect-error a number is not a payload
  await single.send(42);
  // @ts-expect-error unknown option
  await Producer.create({ serviceUrl: 'pulsar://x', topic: 't', batchingMaxMesages: 5 });
  // @ts-expect-error the topic is required
  await Producer.create({ serviceUrl: 'pulsar://x' });
  // @ts-expect-error a producer option is not a client option
  await Client.create({ serviceUrl: 'pulsar://x', batchingMaxMessages: 5 });
  // @ts-expect-error a client option is not a producer option
  await client.createProducer({ topic: 't', memoryLimitBytes: 5 });
  // @ts-expect-error Producer has no public constructor
  new Producer();
}

void main();
