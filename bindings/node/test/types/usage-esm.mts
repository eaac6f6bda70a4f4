// The ESM entry's declarations: named and default imports.
import pp, { Producer, MessageId, version, libraryPath } from 'pulsar-producer';

const id: MessageId = new MessageId(1, 2);
const p: Promise<Producer> = pp.Producer.create({ serviceUrl: 'pulsar://localhost:6650', topic: 't' });
const info: string = `${version} ${libraryPath} ${id} ${pp.Result.Timeout}`;
console.log(p, info, Producer === pp.Producer);
