// The detection of cmkd's key checks written as a user would write it today with the official
// Azure SDK for JavaScript: for each subscription, list the DocumentDB clusters
// (MongoClusterManagementClient), and for each cluster with a customer-managed key read its
// key with a KeyClient (one client per vault, kept in a Map), then judge the version the
// cluster uses as cmkd does: pinned (any versioned URL) or stale version, disabled, expired, not yet valid,
// expiring within 30 days (critical within 7), key type and operations, rotation policy,
// deleted or missing key. A plain script: no caching of key reads across clusters.
//
// Concurrency, as a user would write it: subscriptions one after the other; the clusters of
// each page checked together (Promise.all per page); per cluster the key and its rotation
// policy in parallel, then the pinned version when it is not the current one. SDK defaults
// everywhere else (retries, keep-alive agents, challenge authentication).
//
// Input: the subscription ids as arguments. Credentials: the VM's managed identity (IMDS).
// Output: one JSON line {clusters, severities, findings: {code: n}, errors: {code: n}}.
// (The twin reaches it through tests/twin/fidelity/connect_to.cjs, loaded with node -r; this
// file knows nothing of the twin.)
'use strict';

const { ManagedIdentityCredential } = require('@azure/identity');
const { MongoClusterManagementClient } = require('@azure/arm-mongocluster');
const { KeyClient } = require('@azure/keyvault-keys');

const DAY_MS = 86400 * 1000;
const WARN_MS = 30 * DAY_MS;
const CRIT_MS = 7 * DAY_MS;
const SKEW_MS = 5 * 60 * 1000;

const credential = new ManagedIdentityCredential();
const keyClients = new Map();
const out = { clusters: 0, severities: { ok: 0, info: 0, warning: 0, critical: 0 }, findings: {}, errors: {} };

function keyClientFor(vaultUrl) {
  let c = keyClients.get(vaultUrl);
  if (!c) {
    c = new KeyClient(vaultUrl, credential);
    keyClients.set(vaultUrl, c);
  }
  return c;
}

function parseKeyUrl(s) {
  try {
    const u = new URL(s);
    const p = u.pathname.split('/').filter(Boolean);
    if (u.protocol !== 'https:' || p[0] !== 'keys' || p.length < 2 || p.length > 3) {
      return null;
    }
    return { vaultUrl: u.origin, name: p[1], version: p[2] || null };
  } catch {
    return null;
  }
}

// The per-version checks: which findings the version a cluster uses earns.
function judgeVersion(k, now, add) {
  const p = k.properties;
  if (p.enabled === false) {
    add('key-disabled', 'critical');
  }
  if (p.expiresOn && p.expiresOn.getTime() + SKEW_MS <= now) {
    add('key-expired', 'critical');
  } else if (p.expiresOn && p.expiresOn.getTime() <= now + CRIT_MS) {
    add('key-expiring', 'critical');
  } else if (p.expiresOn && p.expiresOn.getTime() <= now + WARN_MS) {
    add('key-expiring', 'warning');
  }
  if (p.notBefore && p.notBefore.getTime() > now + SKEW_MS) {
    add('key-not-yet-valid', 'critical');
  }
  if (k.keyType !== 'RSA' && k.keyType !== 'RSA-HSM') {
    add('key-type-unsupported', 'critical');
  }
  const ops = k.keyOperations || [];
  if (!ops.includes('wrapKey') || !ops.includes('unwrapKey')) {
    add('key-ops-missing', 'critical');
  }
}

async function checkCluster(cluster) {
  const findings = [];
  const add = (code, severity) => findings.push({ code, severity });
  const now = Date.now();
  const cmk = cluster.properties && cluster.properties.encryption &&
    cluster.properties.encryption.customerManagedKeyEncryption;

  if (!cmk || !cmk.keyEncryptionKeyUrl) {
    add('service-managed-key', 'info');
    return findings;
  }
  const url = parseKeyUrl(cmk.keyEncryptionKeyUrl);
  if (!url) {
    add('key-url-invalid', 'critical');
    return findings;
  }
  if (url.version) {
    // As cmkd defines it: a URL with a version is pinned (it will not follow rotation),
    // whether or not that version is still the current one, and whatever the key reads say.
    add('key-version-pinned', 'info');
  }
  const keys = keyClientFor(url.vaultUrl);
  let current;
  let policy;
  try {
    [current, policy] = await Promise.all([keys.getKey(url.name), keys.getKeyRotationPolicy(url.name)]);
  } catch (e) {
    if (e.statusCode === 404) {
      try {
        await keys.getDeletedKey(url.name);
        add('key-deleted', 'critical');
      } catch (e2) {
        add(e2.statusCode === 404 ? 'key-not-found' : 'check-unknown', e2.statusCode === 404 ? 'critical' : 'warning');
      }
    } else {
      out.errors[e.code || e.statusCode || 'error'] = (out.errors[e.code || e.statusCode || 'error'] || 0) + 1;
      add('check-unknown', 'warning');
    }
    return findings;
  }

  let inUse = current;
  if (url.version) {
    if (url.version.toLowerCase() !== current.properties.version.toLowerCase()) {
      try {
        inUse = await keys.getKey(url.name, { version: url.version });
      } catch (e) {
        inUse = null;
      }
      // Unusable as cmkd judges it: gone, disabled, expired, not yet valid, or without
      // wrapKey/unwrapKey (then the stale pin is critical).
      const p = inUse && inUse.properties;
      const ops = (inUse && inUse.keyOperations) || [];
      const bad = !inUse || p.enabled === false ||
        (p.expiresOn && p.expiresOn.getTime() + SKEW_MS <= now) ||
        (p.notBefore && p.notBefore.getTime() > now + SKEW_MS) ||
        !ops.includes('wrapKey') || !ops.includes('unwrapKey');
      add('key-version-stale', bad ? 'critical' : 'warning');
    }
  }
  if (inUse) {
    judgeVersion(inUse, now, add);
  }
  const rotates = (policy.lifetimeActions || []).some((a) => String(a.action).toLowerCase() === 'rotate');
  if (!rotates) {
    add('key-no-rotation-policy', 'info');
  }
  return findings;
}

function count(findings) {
  const order = ['info', 'warning', 'critical'];
  let worst = -1;
  for (const f of findings) {
    out.findings[f.code] = (out.findings[f.code] || 0) + 1;
    worst = Math.max(worst, order.indexOf(f.severity));
  }
  out.severities[worst < 0 ? 'ok' : order[worst]]++;
  out.clusters++;
}

async function main() {
  const subscriptions = process.argv.slice(2);
  if (subscriptions.length === 0) {
    throw new Error('usage: node sdk-sweep.cjs SUBSCRIPTION-ID...');
  }
  for (const subscription of subscriptions) {
    const arm = new MongoClusterManagementClient(credential, subscription);
    for await (const page of arm.mongoClusters.list().byPage()) {
      const results = await Promise.all(page.map(checkCluster));
      results.forEach(count);
    }
  }
}

main().then(
  () => process.stdout.write(JSON.stringify(out) + '\n'),
  (e) => {
    process.stderr.write(`sdk-sweep: ${(e && e.stack) || e}\n`);
    process.exitCode = 1;
  },
);
