// Run by supervisor/grpc_nodejs_test.go: a RocketMQ 5 Node.js
// SimpleConsumer (tag filter TagA) and a producer against Sluice's gRPC
// front. It sends m1 (TagA), m2 (TagB), m3 (TagA) and d1 (TagA, delayed),
// receives with a 3 s invisible time until m1 and m3 arrive, acks m1,
// changes m3's invisible duration to 1 s, then receives (1 s invisible)
// until m3 came back twice and d1 arrived, and a last receive shows m1
// never came back. Every received message is printed as one event.
'use strict';
const { Producer, SimpleConsumer } = require('rocketmq-client-nodejs');

const cfg = JSON.parse(process.env.SLUICE_STEPS);
const quietLogger = { info() {}, warn() {}, error() {}, debug() {} };
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const t0 = Date.now();
const now = () => Date.now() - t0;

async function main() {
  const base = { endpoints: cfg.endpoints, sslEnabled: false, requestTimeout: 3000, logger: quietLogger };
  const consumer = new SimpleConsumer({ ...base, consumerGroup: cfg.group,
    subscriptions: new Map([[cfg.topic, 'TagA']]), awaitDuration: 1000 });
  await consumer.startup();
  const producer = new Producer({ ...base, topics: [cfg.topic] });
  await producer.startup();
  out({ event: 'startup', t: now() });
  const send = async (body, tag, delayMillis) => {
    const m = { topic: cfg.topic, body: Buffer.from(body), tag };
    if (delayMillis) m.deliveryTimestamp = new Date(Date.now() + delayMillis);
    await producer.send(m);
    out({ event: 'sent', body, t: now() });
  };
  await send('m1', 'TagA');
  await send('m2', 'TagB');
  await send('m3', 'TagA');
  await send('d1', 'TagA', cfg.delayMillis);

  const got = {};
  const receive = async (invisible) => {
    let msgs = [];
    try {
      msgs = await consumer.receive(16, invisible);
    } catch (err) {
      if (err.name !== 'MessageNotFoundException' && !/MESSAGE_NOT_FOUND|40401/.test(String(err.code) + err.message)) {
        out({ event: 'error', name: err.name, code: err.code, message: String(err.message), t: now() });
      }
    }
    for (const m of msgs) {
      const body = m.body.toString();
      out({ event: 'received', body, tag: m.tag, attempt: m.deliveryAttempt, t: now() });
      (got[body] = got[body] || []).push(m);
      if (body === 'd1') await consumer.ack(m);
    }
    return msgs;
  };
  const deadline = Date.now() + 15000;
  while (!(got.m1 && got.m3) && Date.now() < deadline) await receive(3000);
  await consumer.ack(got.m1[0]);
  out({ event: 'acked', body: 'm1', t: now() });
  await consumer.changeInvisibleDuration(got.m3[0], 1000);
  out({ event: 'changed', body: 'm3', t: now() });
  while (!((got.m3 || []).length >= 3 && got.d1) && Date.now() < deadline) await receive(1000);
  if (got.m3 && got.m3.length >= 3) {
    await consumer.ack(got.m3[got.m3.length - 1]);
    out({ event: 'acked', body: 'm3', t: now() });
  }
  // m1 was acked, m3 was acked last: neither may come back.
  const end = Date.now() + 1500;
  while (Date.now() < end) await receive(1000);
  await producer.shutdown();
  await consumer.shutdown();
  out({ event: 'done', t: now() });
}

main().then(() => process.exit(0), (err) => {
  out({ event: 'fatal', name: err && err.name, message: String(err && (err.stack || err.message)) });
  process.exit(1);
});
