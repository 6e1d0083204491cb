// Drives @runwayml/sdk (Node) against a real characters server and prints one JSON object with
// what each call returned; tests/test_node_sdk.py starts the server, runs this and asserts.
//
// Environment: RUNWAYML_BASE_URL, RUNWAYML_API_SECRET (read by the SDK itself), IMAGE_PATH (a
// small PNG), BIG_IMAGE_PATH (a PNG slow to process), TIER1_API_KEY (an organisation of tier 1).

import { readFile } from 'node:fs/promises';
import RunwayML, {
  APIError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  RateLimitError,
  toFile,
} from '@runwayml/sdk';

const MISSING = '550e8400-e29b-41d4-a716-446655440000';
const VOICE = { type: 'runway-live-preset', presetId: 'clara' };
const baseURL = process.env.RUNWAYML_BASE_URL;
const out = {};

function errorInfo(e) {
  if (!(e instanceof APIError)) throw e;
  const kinds = { AuthenticationError, BadRequestError, ConflictError, NotFoundError, RateLimitError };
  const kind = Object.keys(kinds).find((k) => e instanceof kinds[k]) ?? 'APIError';
  return {
    kind,
    status: e.status,
    body: e.error ?? null,
    shouldRetry: e.headers?.get('x-should-retry') ?? null,
    retryAfter: e.headers?.get('retry-after') ?? null,
  };
}

async function expectError(promise) {
  try {
    await promise;
  } catch (e) {
    return errorInfo(e);
  }
  return { kind: 'none' };
}

async function waitReady(client, id, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const avatar = await client.avatars.retrieve(id);
    if (avatar.status !== 'PROCESSING') return avatar;
    if (Date.now() > deadline) throw new Error(`avatar ${id} still PROCESSING`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function collect(iterable) {
  const items = [];
  for await (const item of iterable) items.push(item);
  return items;
}

const requests = [];
const countingFetch = (url, init) => {
  requests.push({ method: init?.method ?? 'GET', url: String(url) });
  return fetch(url, init);
};
const client = new RunwayML({ maxRetries: 0 });
const retrying = new RunwayML({ fetch: countingFetch }); // default retries (2)

const png = await readFile(process.env.IMAGE_PATH);
const dataUri = `data:image/png;base64,${png.toString('base64')}`;

// Documents
const doc = await client.documents.create({ name: 'Menu', content: 'Soup of the day: tomato.' });
out.documentCreate = doc;
const doc2 = await client.documents.create({ name: 'Hours', content: 'Open 9 to 5.' });
out.documentUpdate = (await client.documents.update(doc.id, { name: 'Menu v2' }).asResponse()).status;
out.documentRetrieve = await client.documents.retrieve(doc.id);
out.documentList = (
  await collect(client.documents.list({ limit: 1, sort: 'createdAt', order: 'asc' }))
).map((d) => ({ id: d.id, keys: Object.keys(d).sort() }));

// Uploads
out.upload = await client.uploads.createEphemeral({
  file: await toFile(png, 'face.png', { type: 'image/png' }),
});
out.uploadBadExtension = await expectError(
  client.uploads.createEphemeral({ file: await toFile(png, 'face.exe') }),
);

// Avatars: create (data URI and upload URI), retrieve, list, update, delete
const a1 = await client.avatars.create({
  name: 'Ada',
  personality: 'A friendly guide.',
  referenceImage: dataUri,
  voice: VOICE,
  documentIds: [doc.id],
});
out.avatarCreate = a1;
const a2 = await client.avatars.create({
  name: 'Bea',
  personality: 'A patient teacher.',
  referenceImage: out.upload.uri,
  voice: { type: 'runway-live-preset', presetId: 'vincent' },
  startScript: 'Hello!',
});
out.avatarFromUpload = await waitReady(client, a2.id);
out.avatarReady = await waitReady(client, a1.id);
const { data: retrieved, response } = await client.avatars.retrieve(a1.id).withResponse();
out.avatarRetrieve = { status: response.status, contentType: response.headers.get('content-type'), body: retrieved };
out.avatarList = (await collect(client.avatars.list({ limit: 1 }))).map((a) => a.id);
out.avatarListDefault = (await client.avatars.list()).data.map((a) => a.id);
out.avatarUpdate = await client.avatars.update(a1.id, {
  name: 'Grace',
  startScript: null,
  documentIds: [doc2.id],
});
out.avatarUpdateEmpty = await expectError(client.avatars.update(a1.id, {}));
out.documentUsedBy = (await client.documents.retrieve(doc2.id)).usedBy;

// 409 on a reference image change while processing; x-should-retry: false stops the retries.
const big = await readFile(process.env.BIG_IMAGE_PATH);
const slow = await retrying.avatars.create({
  name: 'Slow',
  personality: 'P',
  referenceImage: `data:image/png;base64,${big.toString('base64')}`,
  voice: VOICE,
});
requests.length = 0;
out.conflict = await expectError(retrying.avatars.update(slow.id, { referenceImage: dataUri }));
out.conflictRequests = requests.length;

// Realtime sessions and the consume exchange (plain fetch, no version header, like the browser)
const created = await client.realtimeSessions.create({
  model: 'gwm1_avatars',
  avatar: { type: 'custom', avatarId: a1.id },
  maxDuration: 60,
});
out.sessionCreate = created;
out.sessionRetrieve = await client.realtimeSessions.retrieve(created.id);
const consume = (key) =>
  fetch(`${baseURL}/v1/realtime_sessions/${created.id}/consume`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
  });
let r = await consume('wrong-key');
out.consumeWrongKey = r.status;
r = await consume(out.sessionRetrieve.sessionKey);
out.consume = { status: r.status, body: await r.json() };
r = await consume(out.sessionRetrieve.sessionKey);
out.consumeAgain = { status: r.status, body: await r.json() };
out.sessionDelete = (await client.realtimeSessions.delete(created.id).asResponse()).status;
out.sessionAfterDelete = await client.realtimeSessions.retrieve(created.id);
out.conversations = (await collect(client.avatarConversations.list({ avatar: a1.id }))).map((c) => ({
  id: c.id,
  status: c.status,
}));

// Errors
out.notFound = await expectError(client.avatars.retrieve(MISSING));
out.badRequest = await expectError(
  client.avatars.create({ name: 'X', personality: 'P', referenceImage: dataUri, voice: { type: 'runway-live-preset', presetId: 'nobody' } }),
);
out.unauthorized = await expectError(
  new RunwayML({ apiKey: `key_${'0'.repeat(128)}`, maxRetries: 0 }).organization.retrieve(),
);
out.sessionNotFound = await expectError(client.realtimeSessions.retrieve(MISSING));

const tier1 = new RunwayML({ apiKey: process.env.TIER1_API_KEY, maxRetries: 0 });
const t1Avatar = await waitReady(
  tier1,
  (await tier1.avatars.create({ name: 'T', personality: 'P', referenceImage: dataUri, voice: VOICE })).id,
);
for (let i = 0; i < 3; i++) {
  await tier1.realtimeSessions.create({ model: 'gwm1_avatars', avatar: { type: 'custom', avatarId: t1Avatar.id } });
}
out.rateLimited = await expectError(
  tier1.realtimeSessions.create({ model: 'gwm1_avatars', avatar: { type: 'custom', avatarId: t1Avatar.id } }),
);

// Deletes
out.avatarDelete = (await client.avatars.delete(a2.id).asResponse()).status;
out.avatarAfterDelete = await expectError(client.avatars.retrieve(a2.id));
out.documentDelete = (await client.documents.delete(doc2.id).asResponse()).status;
out.avatarAfterDocumentDelete = (await client.avatars.retrieve(a1.id)).documentIds;
out.documentAfterDelete = await expectError(client.documents.retrieve(doc2.id));
out.organization = await client.organization.retrieve();

process.stdout.write(JSON.stringify(out) + '\n');
