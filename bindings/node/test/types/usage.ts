// A typed usage example, checked by `tsc --noEmit -p test/types` (never
// run): the CommonJS entry's declarations, by the package's name.
import {
  Producer, MessageId, PulsarError, Result, errors, resultInfo, ProducerOptions, SendOptions,
} from 'pulsar-producer';

async function main(): Promise<void> {
  const options: ProducerOptions = {
    serviceUrl: 'pulsar://localhost:6650',
    topic: 'persistent://public/default/example',
    batchingMaxMessages: 1000,
    batchingMaxPublishDelay: 10,
    blockIfQueueFull: true,
    compressionType: 'lz4',
    properties: { app: 'example' },
  };
  const producer: Producer = await Producer.create(options);
  const sendOptions: SendOptions = {
    key: 'user-1',
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
  const parts: [number, number, number, number, number] = [id.ledgerId, id.entryId, id.partition, id.batchIndex, id.batchSize];
  const bytes: Buffer = id.serialize();
  const same: boolean = MessageId.deserialize(bytes).equals(id);
  const name: string = producer.name;
  const partitions: number = producer.partitions;
  console.log(parts, id.toString(), same, producer.pendingCount, producer.topic, name, partitions);
  await producer.flush({ timeoutMs: 5000 });
  await producer.close();
  try {
    await producer.send('late');
  } catch (e) {
    if (e instanceof PulsarError && e.code === Result.AlreadyClosed) {
      const name: string = e.name;
      const retriable: boolean = e.retriable;
      console.log(name, retriable, resultInfo(e.code)?.description);
    }
    if (e instanceof errors.AlreadyClosed) console.log('closed');
  }
  // @ts-expect-error a number is not a payload
  await producer.send(42);
  // @ts-expect-error unknown library option
  await Producer.create({ serviceUrl: 'pulsar://x', topic: 't', batchingMaxMesages: 5 });
  // @ts-expect-error the topic is required
  await Producer.create({ serviceUrl: 'pulsar://x' });
  // @ts-expect-error Producer has no public constructor
  new Producer();
}

void main();
