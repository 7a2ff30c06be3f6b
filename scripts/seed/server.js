// The seed design, done durably: the Express receiver of the providers' guides
// (/work/shared/seeds, SPEC.md's preamble) with Redis idempotency, made to keep what it
// acknowledges. It is the "before" that BENCHMARKS.md compares hookgate with
// (`scripts/bench`, step 2), not part of the product.
//
// From the guide: one Node.js process, `express.raw`, the Groq check (HMAC-SHA256 hex
// over `timestamp.body`, a 5-minute window, `crypto.timingSafeEqual`), Redis keys
// `groq:event:<id>` with a TTL. Done durably, as issue 12 measured it:
// - the event is published to a durable topic exchange as a persistent message, and the
//   200 waits for the broker's confirm (the guide ran a handler in the request instead);
// - idempotency is atomic (the guide's check-then-set lets two copies through) and has two
//   states: `SET NX` marks the event pending for a minute, the confirm marks it done for
//   the TTL. A copy that finds it pending is answered 409, so the provider retries; a failed
//   publish removes the mark. A crash between the two leaves a pending mark that expires,
//   so the provider's retry is taken then, not answered as a duplicate of a lost event;
// - the SPEC's fixes to the check: a missing, non-numeric or future timestamp and a
//   signature that is not 64 hex digits are rejected (the guide's check threw or let them
//   pass).
// The message carries the body and the event's ID and type as properties, with no
// CloudEvents headers and not `mandatory`: a cheaper message than hookgate's SPEC §4 one
// (and an event no queue takes is dropped, where hookgate keeps and retries it).
//
// Environment: PORT (3000), GROQ_WEBHOOK_SECRET, AMQP_URL, EXCHANGE (hookgate.events),
// REDIS_URL (redis://127.0.0.1:6379), KEY_TTL_SECONDS (604800, the guide's 7 days).
'use strict';

const crypto = require('crypto');
const express = require('express');
const amqp = require('amqplib');
const { Redis } = require('ioredis');

const env = process.env;
const secret = env.GROQ_WEBHOOK_SECRET;
if (!secret) {
  console.error('GROQ_WEBHOOK_SECRET is not set');
  process.exit(1);
}
const exchange = env.EXCHANGE || 'hookgate.events';
const keyTtl = Number(env.KEY_TTL_SECONDS || 86400 * 7);
if (!Number.isInteger(keyTtl) || keyTtl <= 0) {
  console.error('KEY_TTL_SECONDS must be a positive whole number of seconds');
  process.exit(1);
}
const TOLERANCE_SECONDS = 300;
const PENDING_SECONDS = 60;

function verifyGroqSignature(payload, signature, timestamp) {
  if (typeof signature !== 'string' || typeof timestamp !== 'string') return false;
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) return false;
  if (!/^[0-9]{1,12}$/.test(timestamp)) return false;
  const age = Date.now() / 1000 - Number(timestamp);
  if (Math.abs(age) > TOLERANCE_SECONDS) return false;
  const expected = crypto
    .createHmac('sha256', secret)
    .update(`${timestamp}.`)
    .update(payload)
    .digest();
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

function publish(channel, event, body, contentType) {
  return new Promise((resolve, reject) => {
    channel.publish(
      exchange,
      `groq.${event.type}`,
      body,
      {
        persistent: true,
        messageId: event.id,
        type: event.type,
        contentType,
        timestamp: Math.floor(Date.now() / 1000),
      },
      (err) => (err ? reject(err) : resolve()),
    );
  });
}

async function main() {
  const redis = new Redis(env.REDIS_URL || 'redis://127.0.0.1:6379');
  const connection = await amqp.connect(env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/%2f');
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  // Whatever is pending when the broker link goes is retried by the provider once its
  // pending mark expires.
  let stopping = false;
  connection.on('error', (e) => { console.error('broker connection:', e.message); process.exit(1); });
  channel.on('error', (e) => { console.error('broker channel:', e.message); process.exit(1); });
  channel.on('close', () => { if (!stopping) { console.error('broker channel closed'); process.exit(1); } });

  const app = express();
  app.post('/webhooks/groq', express.raw({ type: '*/*', limit: '1mb' }), async (req, res) => {
    const body = req.body;
    if (!Buffer.isBuffer(body) ||
        !verifyGroqSignature(body, req.headers['x-groq-signature'], req.headers['x-groq-timestamp'])) {
      return res.status(401).json({ error: 'Invalid signature' });
    }
    let event;
    try {
      event = JSON.parse(body.toString());
    } catch {
      return res.status(400).json({ error: 'Invalid JSON' });
    }
    if (event === null || typeof event !== 'object' ||
        typeof event.id !== 'string' || typeof event.type !== 'string') {
      return res.status(400).json({ error: 'Missing id or type' });
    }
    const key = `groq:event:${event.id}`;
    try {
      const fresh = await redis.set(key, 'pending', 'EX', PENDING_SECONDS, 'NX');
      if (fresh === null) {
        if ((await redis.get(key)) === 'done') {
          return res.status(200).json({ received: true, duplicate: true });
        }
        return res.status(409).json({ error: 'In progress, retry later' });
      }
      try {
        await publish(channel, event, body, req.headers['content-type'] || 'application/json');
      } catch (e) {
        await redis.del(key).catch(() => {});
        throw e;
      }
      await redis.set(key, 'done', 'EX', keyTtl);
    } catch (e) {
      console.error('not stored:', e.message);
      return res.status(503).json({ error: 'Unavailable' });
    }
    return res.status(200).json({ received: true });
  });

  const port = Number(env.PORT || 3000);
  const server = app.listen(port, '127.0.0.1', () => console.log(`seed design listening on ${port}`));
  server.keepAliveTimeout = 75_000;
  const stop = () => {
    stopping = true;
    server.close(() => connection.close().finally(() => { redis.quit(); process.exit(0); }));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error('seed design failed to start:', e.message);
  process.exit(1);
});
