// Run by supervisor/grpc_nodejs_test.go: one RocketMQ 5 Node.js producer
// against Sluice's gRPC front. Steps come from SLUICE_STEPS (JSON); each
// step's outcome is printed as one JSON line. A "wait" step reads one line
// from stdin first, so the Go test can change the broker between steps.
'use strict';
const readline = require('readline');
const { Producer } = require('rocketmq-client-nodejs');

const cfg = JSON.parse(process.env.SLUICE_STEPS);
const quietLogger = { info() {}, warn() {}, error() {}, debug() {} };
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const lines = readline.createInterface({ input: process.stdin });
const pending = [];
lines.on('line', (l) => { const r = pending.shift(); if (r) r(l); });
const nextLine = () => new Promise((resolve) => pending.push(resolve));

async function main() {
  const producer = new Producer({
    endpoints: cfg.endpoints,
    sslEnabled: false,
    topics: cfg.topics,
    maxAttempts: cfg.maxAttempts || 3,
    requestTimeout: 3000,
    logger: quietLogger,
    sessionCredentials: cfg.accessKey ? { accessKey: cfg.accessKey, accessSecret: cfg.secretKey } : undefined,
    // The broker's orphaned-transaction check arrives over telemetry; the
    // answer is cfg.checkResult (TransactionResolution: 1 COMMIT, 2
    // ROLLBACK; 0 UNSPECIFIED by default).
    checker: { async check(mv) { out({ step: 'checked', ok: true, messageId: mv.messageId }); return cfg.checkResult || 0; } },
  });
  await producer.startup();
  out({ step: 'startup', ok: true });
  for (const s of cfg.steps) {
    if (s.wait) await nextLine();
    if (s.hold) continue;
    const msg = { topic: s.topic, body: Buffer.from(s.body), tag: s.tag, keys: s.keys };
    if (s.group) msg.messageGroup = s.group;
    if (s.delayMillis) msg.deliveryTimestamp = new Date(Date.now() + s.delayMillis);
    try {
      let receipt;
      if (s.tx) {
        const tx = producer.beginTransaction();
        receipt = await producer.send(msg, tx);
        // tx "orphan": neither, left to the broker's check.
        if (s.tx === 'commit') await tx.commit(); else if (s.tx === 'rollback') await tx.rollback();
      } else {
        receipt = await producer.send(msg);
      }
      out({ step: s.name, ok: true, messageId: receipt.messageId, offset: Number(receipt.offset),
        queueId: receipt.messageQueue ? receipt.messageQueue.queueId : -1 });
    } catch (err) {
      out({ step: s.name, ok: false, error: err.name, code: err.code, message: String(err.message) });
    }
  }
  await producer.shutdown();
  lines.close();
}

main().then(() => process.exit(0), (err) => {
  out({ step: 'fatal', ok: false, error: err && err.name, message: String(err && (err.stack || err.message)) });
  process.exit(1);
});
