// Runs the official Azure SDK for JavaScript against the twin: lists clusters (paged),
// gets one, runs a CMK update (PUT) and a PATCH to completion through the SDK's own
// long-running-operation poller, reads a key and its versions (challenge auth, paged),
// and checks 404 errors, all with real credentials from @azure/identity (managed identity
// through IMDS, and a client secret through Entra ID). TLS is verified against the twin's
// CA (NODE_EXTRA_CA_CERTS); hosts reach the twin through connect_to.cjs.
// Input: env TWIN_FIDELITY (JSON, see test_sdk_fidelity.py). Output: one JSON line.
'use strict';

const connectTo = require('./connect_to.cjs');
const { MongoClusterManagementClient } = require('@azure/arm-mongocluster');
const { KeyClient } = require('@azure/keyvault-keys');
const { ManagedIdentityCredential, ClientSecretCredential } = require('@azure/identity');

const cfg = JSON.parse(process.env.TWIN_FIDELITY || '{}');
const noRetry = { retryOptions: { maxRetries: 0 } };
const out = { steps: [] };

function check(cond, what) {
  if (!cond) {
    throw new Error(`check failed: ${what}`);
  }
}

async function step(name, fn) {
  const t0 = Date.now();
  const r = await fn();
  out.steps.push({ name, ms: Date.now() - t0, result: r });
  return r;
}

async function expectRestError(fn, status, code) {
  try {
    await fn();
  } catch (e) {
    check(e.statusCode === status, `status ${e.statusCode} == ${status} (${e.message})`);
    check(e.code === code, `code ${e.code} == ${code}`);
    return { statusCode: e.statusCode, code: e.code };
  }
  throw new Error(`expected a RestError ${status} ${code}, got success`);
}

async function main() {
  const mi = new ManagedIdentityCredential(noRetry);
  const arm = new MongoClusterManagementClient(mi, cfg.subscription, noRetry);

  await step('list clusters in subscription (paged)', async () => {
    const names = [];
    for await (const c of arm.mongoClusters.list()) {
      names.push(c.name);
      check(typeof c.id === 'string' && c.type === 'Microsoft.DocumentDB/mongoClusters', 'cluster id/type');
      check(c.systemData && c.systemData.createdAt instanceof Date && !isNaN(c.systemData.createdAt), 'createdAt');
    }
    check(names.length === cfg.expectClusters, `listed ${names.length} == ${cfg.expectClusters}`);
    return names.length;
  });

  await step('list clusters in resource group (paged)', async () => {
    let n = 0;
    for await (const c of arm.mongoClusters.listByResourceGroup(cfg.resourceGroup)) {
      check(c.id.toLowerCase().includes(`/resourcegroups/${cfg.resourceGroup.toLowerCase()}/`), 'rg of listed');
      n++;
    }
    check(n === cfg.expectClustersInRg, `listed ${n} == ${cfg.expectClustersInRg}`);
    return n;
  });

  const before = await step('get cluster', async () => {
    const c = await arm.mongoClusters.get(cfg.resourceGroup, cfg.cluster);
    const cmk = c.properties.encryption.customerManagedKeyEncryption;
    check(cmk.keyEncryptionKeyIdentity.identityType === 'UserAssignedIdentity', 'identityType');
    check(typeof cmk.keyEncryptionKeyUrl === 'string', 'keyEncryptionKeyUrl');
    check(c.properties.provisioningState === 'Succeeded', 'provisioningState');
    check(c.properties.clusterStatus === 'Ready', 'clusterStatus');
    check(c.identity.type === 'UserAssigned', 'identity type');
    return { keyUrl: cmk.keyEncryptionKeyUrl, location: c.location };
  });

  await step('CMK update by PUT through the SDK poller', async () => {
    const body = {
      location: before.location,
      identity: { type: 'UserAssigned', userAssignedIdentities: { [cfg.uamiId]: {} } },
      properties: {
        encryption: {
          customerManagedKeyEncryption: {
            keyEncryptionKeyIdentity: { identityType: 'UserAssignedIdentity', userAssignedIdentityResourceId: cfg.uamiId },
            keyEncryptionKeyUrl: cfg.newKeyUrl,
          },
        },
      },
    };
    const poller = arm.mongoClusters.createOrUpdate(cfg.resourceGroup, cfg.cluster, body, { updateIntervalInMs: 50 });
    const res = await poller.pollUntilDone();
    const cmk = res.properties.encryption.customerManagedKeyEncryption;
    check(res.properties.provisioningState === 'Succeeded', `final provisioningState ${res.properties.provisioningState}`);
    check(cmk.keyEncryptionKeyUrl === cfg.newKeyUrl, `final key url ${cmk.keyEncryptionKeyUrl}`);
    const again = await arm.mongoClusters.get(cfg.resourceGroup, cfg.cluster);
    check(again.properties.encryption.customerManagedKeyEncryption.keyEncryptionKeyUrl === cfg.newKeyUrl, 'GET after');
    return { keyUrl: cmk.keyEncryptionKeyUrl };
  });

  await step('PATCH (tags) through the SDK poller', async () => {
    const poller = arm.mongoClusters.update(cfg.resourceGroup, cfg.cluster, { tags: { fidelity: 'yes' } },
      { updateIntervalInMs: 50 });
    const res = await poller.pollUntilDone();
    check(res.tags && res.tags.fidelity === 'yes', 'tags after PATCH');
    return res.tags;
  });

  await step('CMK update refused: identity without key (400)', async () =>
    expectRestError(() => arm.mongoClusters.createOrUpdate(cfg.resourceGroup, cfg.cluster, {
      location: before.location,
      identity: { type: 'UserAssigned', userAssignedIdentities: { [cfg.uamiId]: {} } },
      properties: {},
    }).pollUntilDone(), 400, 'InvalidParameter'));

  await step('get missing cluster (404)', async () =>
    expectRestError(() => arm.mongoClusters.get(cfg.resourceGroup, 'no-such-cluster'), 404, 'ResourceNotFound'));

  const keys = new KeyClient(cfg.vaultUrl, mi, noRetry);
  const latest = await step('get key (challenge auth, latest)', async () => {
    const k = await keys.getKey(cfg.keyName);
    check(k.name === cfg.keyName && k.keyType === 'RSA', 'key name/type');
    check(k.properties.enabled === true && k.properties.createdOn instanceof Date, 'key properties');
    check(k.key.n instanceof Uint8Array && k.key.n.length * 8 === cfg.keyBits, `modulus ${k.key.n.length * 8} bits`);
    return { version: k.properties.version };
  });

  await step('get key version', async () => {
    const k = await keys.getKey(cfg.keyName, { version: cfg.oldVersion });
    check(k.properties.version === cfg.oldVersion, 'version');
    return k.properties.version;
  });

  await step('list key versions (paged)', async () => {
    const vs = [];
    for await (const p of keys.listPropertiesOfKeyVersions(cfg.keyName)) {
      vs.push(p.version);
    }
    check(vs.length === cfg.expectVersions, `versions ${vs.length} == ${cfg.expectVersions}`);
    check(vs.includes(latest.version), 'latest among versions');
    return vs.length;
  });

  await step('list keys', async () => {
    let n = 0;
    for await (const p of keys.listPropertiesOfKeys()) {
      check(typeof p.name === 'string', 'key name');
      n++;
    }
    check(n === cfg.expectKeys, `keys ${n} == ${cfg.expectKeys}`);
    return n;
  });

  await step('get missing key (404)', async () =>
    expectRestError(() => keys.getKey('no-such-key'), 404, 'KeyNotFound'));

  await step('client secret credential: ARM get + key get', async () => {
    const cs = new ClientSecretCredential(cfg.tenantId, cfg.appClientId, cfg.appSecret, noRetry);
    const a = new MongoClusterManagementClient(cs, cfg.subscription, noRetry);
    const c = await a.mongoClusters.get(cfg.resourceGroup, cfg.cluster);
    const k = await new KeyClient(cfg.apVaultUrl, cs, noRetry).getKey(cfg.apKeyName);
    return { cluster: c.name, key: k.name };
  });

  out.connections = Array.from(new Set(connectTo.seen));
  out.ok = true;
}

main().then(
  () => {
    process.stdout.write(JSON.stringify(out) + '\n');
  },
  (e) => {
    out.ok = false;
    out.error = (e && e.stack) || String(e);
    out.connections = Array.from(new Set(connectTo.seen));
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exitCode = 1;
  },
);
