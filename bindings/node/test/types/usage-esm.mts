// The ESM entry's declarations: named and default imports.
import pp, { Client, Producer, MessageId, version, libraryPath } from 'pulsar-producer';

const id: MessageId = new MessageId(1, 2);
const p: Promise<Producer> = pp.Producer.create({ serviceUrl: 'pulsar://localhost:6650', topic: 't' });
const c: Promise<Client> = Client.create({ serviceUrl: 'pulsar://localhost:6650' });
const info: string = `${version} ${libraryPath ?? 'no native library'} ${id} ${pp.Result.Timeout} ${pp.defaultBackend()}`;
console.log(p, c, info, Producer === pp.Producer);
