# The twin's world: scenario loading and validation, the resource model (tenants,
# principals, subscriptions, identities, vaults, keys, roles, clusters), the twin clock,
# access checks as Azure makes them, the cluster health engine (Inaccessible after a
# delay), long-running operations, throttling buckets, faults and the control ops.
# No HTTP here: the service modules turn requests into calls on World, under World.lock.

import collections
import copy
import ipaddress
import json
import math
import os
import random
import threading
import time
import uuid

from tw_common import (API_VERSIONS, BUILTIN_ROLES, CLOUDS, DATA_KEY_READ, DATA_KEY_UNWRAP, DATA_KEY_WRAP,
                       DATA_ROTATION_READ, HSM_BUILTIN_ROLES, HSM_KEY_READ, HSM_KEY_TYPES, HSM_KEY_UNWRAP,
                       HSM_KEY_WRAP, HSM_ROLE_NAME_TO_ID, ROLE_NAME_TO_ID, TimeParseError, action_matches, arm_id,
                       b64url, det_bytes, det_hex32, det_uuid, hsm_scope_covers, hsm_scope_norm, id_key, is_uuid,
                       iso_utc, parse_iso_duration, parse_time, scope_is_at_or_above)


class ScenarioError(Exception):
    """A problem in the scenario file; the message names where."""


class ControlError(Exception):
    """A bad control request; answered with 400 and the message."""


DEFAULT_SETTINGS = {
    "arm_page_size": 100,          # mongoClusters / vaults / role assignments per page
    "kv_page_size": 25,            # Key Vault default page size (maxresults caps at 25)
    "token_lifetime_s": 3600,      # lifetime of every token the twin issues
    "retry_after_s": 1,            # Retry-After on LRO answers (the JS SDK honours 0)
    "lro_delay_s": 2.0,            # time from PUT/PATCH/DELETE to the terminal state
    "lro_outcome": "Succeeded",    # Succeeded | Failed | Never
    "lro_failed_provisioning_state": "Failed",  # provisioningState left by a failed LRO
    "lro_error": {"code": "InternalServerError",
                  "message": "An unexpected error occured while processing the request."},
    "lro_failure_status": 500,     # status of the Location URL once the LRO failed
    "inaccessible_delay_s": 10.0,  # access lost -> clusterStatus Inaccessible (Azure: up to 60 min)
    "recovery_delay_s": 10.0,      # access back -> clusterStatus Ready (Azure: up to 60 min)
    "latency_ms": 0,               # added to every answer (not control API)
    "disabled_key_get": "ok",      # ok: GET of a disabled key is 200 enabled:false; forbidden: 403 KeyDisabled
    "put_validation_status": 400,  # status of the documented CMK validation errors
    "client_ip": None,             # address Key Vault firewalls see (default: the peer's)
    "auto_rotate": True,           # apply key rotation policies (Rotate actions) in twin time
    "log_max": 200000,             # request log ring size
    "seed": 0,                     # fault rates draw from random.Random(seed)
    "throttle": {
        "enabled": True,
        "reads": {"capacity": 250, "refill": 25},
        "writes": {"capacity": 200, "refill": 10},
        "deletes": {"capacity": 200, "refill": 10},
        "global_factor": 15,       # per-subscription limit = factor x per-principal limit
    },
    "api_versions": {},            # overrides of tw_common.API_VERSIONS per service
}

CLUSTER_OP_STATUS = {"create": ("InProgress", "Provisioning"), "update": ("Updating", "Updating"),
                     "delete": ("Dropping", "Dropping")}

KV_AP_ALL = {"all"}

# A Managed HSM authorizes with its local RBAC, whose data actions are spelt differently:
# the vault data action a caller asks for -> the HSM one.
HSM_ACTION = {DATA_KEY_READ: HSM_KEY_READ, DATA_KEY_WRAP: HSM_KEY_WRAP, DATA_KEY_UNWRAP: HSM_KEY_UNWRAP,
              DATA_ROTATION_READ: HSM_KEY_READ}


def _deep_merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# --- model objects ------------------------------------------------------------------

class Tenant:
    __slots__ = ("id", "name")

    def __init__(self, tid, name):
        self.id, self.name = tid, name


class Principal:
    """A caller of the twin: a VM system-assigned identity, a user-assigned identity used
    from the VM (IMDS), or an application (client secret / federated assertion)."""
    __slots__ = ("name", "type", "object_id", "tenant_id", "client_id", "client_secret", "federated",
                 "identity_id", "trusted_service", "disabled")

    def __init__(self):
        self.client_secret = None
        self.federated = None
        self.identity_id = None
        self.trusted_service = False
        self.disabled = False


class Subscription:
    __slots__ = ("id", "name", "tenant_id", "state", "cloud", "rgs", "tags", "managed_by")


class ResourceGroup:
    __slots__ = ("name", "location", "sub")

    def __init__(self, name, location, sub):
        self.name, self.location, self.sub = name, location, sub


class Identity:
    __slots__ = ("sub", "rg", "name", "location", "principal_id", "client_id", "tenant_id", "tags", "deleted")

    @property
    def id(self):
        return arm_id(self.sub, self.rg, "Microsoft.ManagedIdentity", "userAssignedIdentities", self.name)


class KeyVersion:
    __slots__ = ("version", "enabled", "nbf", "exp", "created", "updated", "tags", "material")


class Key:
    __slots__ = ("name", "kty", "size", "crv", "key_ops", "tags", "managed", "exportable", "versions",
                 "rotation_policy", "deleted_at", "policy_created", "policy_updated")

    def latest(self):
        return self.versions[-1] if self.versions else None

    def find_version(self, v):
        v = v.lower()
        for kv in self.versions:
            if kv.version == v:
                return kv
        return None


class Vault:
    __slots__ = ("sub", "rg", "name", "location", "tenant_id", "sku", "soft_delete", "retention_days",
                 "purge_protection", "rbac", "public_network_access", "network_acls", "access_policies", "hsm",
                 "cloud", "keys", "deleted_keys", "deleted_at", "created", "tags", "trusted_loopback", "local_ras",
                 "local_roles")
    # local_ras / local_roles: a Managed HSM's local RBAC (role assignment id -> RoleAssignment
    # with an HSM scope; role GUID -> RoleDefinition of its custom roles). Empty for vaults.

    @property
    def id(self):
        return arm_id(self.sub, self.rg, "Microsoft.KeyVault", "managedHSMs" if self.hsm else "vaults", self.name)

    @property
    def host(self):
        c = CLOUDS[self.cloud]
        return "%s.%s" % (self.name.lower(), c["hsm_suffix"] if self.hsm else c["vault_suffix"])

    @property
    def uri(self):
        return "https://%s/" % self.host

    def recovery_level(self):
        if not self.soft_delete:
            return "Purgeable", 0
        custom = self.retention_days < 90
        if self.purge_protection:
            return ("CustomizedRecoverable" if custom else "Recoverable"), self.retention_days
        return ("CustomizedRecoverable+Purgeable" if custom else "Recoverable+Purgeable"), self.retention_days


class RoleDefinition:
    __slots__ = ("id", "name", "description", "actions", "not_actions", "data_actions", "not_data_actions",
                 "assignable_scopes", "builtin")

    def grants_data(self, action):
        return (any(action_matches(p, action) for p in self.data_actions)
                and not any(action_matches(p, action) for p in self.not_data_actions))


class RoleAssignment:
    __slots__ = ("id", "scope", "role_id", "principal_id", "principal_type", "created", "description")


def _hsm_builtin_defs():
    out = {}
    for rid, b in HSM_BUILTIN_ROLES.items():
        rd = RoleDefinition()
        rd.id, rd.name, rd.description = rid, b["name"], b["description"]
        rd.actions, rd.not_actions, rd.data_actions, rd.not_data_actions = [], [], list(b["data_actions"]), []
        rd.assignable_scopes, rd.builtin = ["/"], True
        out[rid] = rd
    return out


HSM_BUILTIN_DEFS = _hsm_builtin_defs()


class Cluster:
    __slots__ = ("sub", "rg", "name", "location", "tags", "cmk", "uami", "system_identity", "props",
                 "provisioning_state", "base_status", "sticky_status", "access_ok", "access_reasons",
                 "access_changed", "access_next", "op", "created", "modified", "modified_by", "replica")

    @property
    def id(self):
        return arm_id(self.sub, self.rg, "Microsoft.DocumentDB", "mongoClusters", self.name)


class Operation:
    __slots__ = ("id", "kind", "cluster_key", "cluster_id", "sub", "region", "start", "due", "outcome", "error",
                 "pending", "status", "end", "final_ps", "prev_status", "fail_status")


class TokenRec:
    __slots__ = ("principal", "kind", "cloud", "aud", "tid", "oid", "appid", "exp", "iat", "revoked")


class Bucket:
    __slots__ = ("capacity", "refill", "tokens", "last")

    def __init__(self, capacity, refill, t):
        self.capacity, self.refill, self.tokens, self.last = float(capacity), float(refill), float(capacity), t

    def _fill(self, t):
        if t > self.last:
            self.tokens = min(self.capacity, self.tokens + (t - self.last) * self.refill)
        self.last = t

    def peek(self, t):
        self._fill(t)
        return self.tokens

    def take(self, t):
        self._fill(t)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True, int(math.floor(self.tokens))
        if self.refill <= 0:
            return False, 3600
        return False, max(1, int(math.ceil((1.0 - self.tokens) / self.refill)))


class Fault:
    __slots__ = ("id", "host", "path", "method", "service", "principal", "rate", "nth", "every", "first", "after",
                 "count", "action", "params", "matched", "fired")


FAULT_ACTIONS = {"latency", "reset", "close", "truncate", "slow_body", "status", "throttle", "malformed_json",
                 "wrong_types", "huge_body", "lro_never", "lro_fail", "wrong_content_type", "empty_body"}


def parse_fault(d, where):
    if not isinstance(d, dict):
        raise ScenarioError("%s: a fault must be an object" % where)
    f = Fault()
    f.id = str(d.get("id") or "")
    f.action = d.get("action")
    if f.action not in FAULT_ACTIONS:
        raise ScenarioError("%s.action: '%s' is not one of %s" % (where, f.action, ", ".join(sorted(FAULT_ACTIONS))))
    f.host = d.get("host")
    f.path = d.get("path")
    f.method = d.get("method")
    f.service = d.get("service")
    if f.service not in (None, "arm", "kv", "hsm", "entra", "imds"):
        raise ScenarioError("%s.service: '%s' is not arm, kv, hsm, entra or imds" % (where, f.service))
    f.principal = d.get("principal")
    f.rate = d.get("rate")
    f.nth = d.get("nth")
    f.every = d.get("every")
    f.first = d.get("first")
    f.after = d.get("after", 0)
    f.count = d.get("count")
    for k in ("nth", "every", "first", "count", "after"):
        v = getattr(f, k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise ScenarioError("%s.%s: must be a non-negative integer" % (where, k))
    if f.rate is not None and (not isinstance(f.rate, (int, float)) or not 0 <= f.rate <= 1):
        raise ScenarioError("%s.rate: must be a number from 0 to 1" % where)
    known = {"id", "action", "host", "path", "method", "service", "principal", "rate", "nth", "every", "first",
             "after", "count"}
    f.params = {k: v for k, v in d.items() if k not in known}
    for k in ("latency_ms", "status", "retry_after", "bytes", "size_bytes", "delay_ms", "chunk_bytes",
              "bytes_per_s"):
        v = f.params.get(k)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0):
            raise ScenarioError("%s.%s: must be a non-negative number" % (where, k))
    f.matched = 0
    f.fired = 0
    return f


def fault_json(f):
    d = {"id": f.id, "action": f.action, "matched": f.matched, "fired": f.fired}
    for k in ("host", "path", "method", "service", "principal", "rate", "nth", "every", "first", "count"):
        v = getattr(f, k)
        if v is not None:
            d[k] = v
    if f.after:
        d["after"] = f.after
    d.update(f.params)
    return d


# --- the world ----------------------------------------------------------------------

class World:
    def __init__(self, scenario, source="scenario"):
        self.lock = threading.RLock()
        self.source = source
        self.clock_offset = 0.0
        self.frozen_at = None  # real time at which the twin clock stopped, or None
        self.started = time.time()
        self.tokens = collections.OrderedDict()
        self.buckets = {}
        self.ops = collections.OrderedDict()
        self.faults = []
        self.next_rotation_check = None
        self._load(scenario)

    # --- clock -----------------------------------------------------------------

    def now(self):
        base = self.frozen_at if self.frozen_at is not None else time.time()
        return base + self.clock_offset

    # --- scenario loading ------------------------------------------------------

    def _err(self, where, msg):
        raise ScenarioError("%s: %s: %s" % (self.source, where, msg))

    def _get(self, d, key, types, where, default=None, required=False):
        if key not in d or d[key] is None:
            if required:
                self._err(where, "'%s' is required" % key)
            return default
        v = d[key]
        if types is not None and (not isinstance(v, types) or (isinstance(v, bool) and bool not in
                                                                 (types if isinstance(types, tuple) else (types,)))):
            tn = types.__name__ if isinstance(types, type) else "/".join(t.__name__ for t in types)
            self._err("%s.%s" % (where, key), "must be %s, got %s" % (tn, type(v).__name__))
        return v

    def _time_or(self, d, key, default, where, now):
        v = d.get(key)
        return self._time(default if v is None else v, where + "." + key, now)

    def _time(self, v, where, now):
        try:
            return parse_time(v, now)
        except TimeParseError as e:
            self._err(where, str(e))

    def _load(self, sc):
        if not isinstance(sc, dict):
            self._err("top level", "the scenario must be a JSON object")
        known = {"settings", "tenants", "principals", "cmkd_principal", "subscriptions", "identities", "vaults",
                 "hsms", "role_definitions", "role_assignments", "groups", "arm_deny", "clusters", "faults", "description",
                 "name", "comment"}
        for k in sc:
            if k not in known:
                self._err("top level", "unknown key '%s' (known: %s)" % (k, ", ".join(sorted(known))))
        now = self.now()
        self.load_time = now
        st = self._get(sc, "settings", dict, "settings", {})
        for k in st:
            if k not in DEFAULT_SETTINGS:
                self._err("settings", "unknown setting '%s'" % k)
        self.settings = _deep_merge(DEFAULT_SETTINGS, st)
        self._check_settings("settings")
        self.rng = random.Random(self.settings["seed"])
        self.log_max = int(self.settings["log_max"])

        # tenants
        self.tenants = {}
        self.tenant_names = {}
        for i, t in enumerate(self._get(sc, "tenants", list, "tenants", [])):
            w = "tenants[%d]" % i
            if not isinstance(t, dict):
                self._err(w, "must be an object")
            name = self._get(t, "name", str, w)
            tid = self._get(t, "id", str, w) or det_uuid("tenant", name or i)
            if not is_uuid(tid):
                self._err(w + ".id", "'%s' is not a GUID" % tid)
            tid = tid.lower()
            if tid in self.tenants:
                self._err(w + ".id", "duplicate tenant %s" % tid)
            self.tenants[tid] = Tenant(tid, name)
            if name:
                self.tenant_names[name.lower()] = tid
        if not self.tenants:
            tid = det_uuid("tenant", "default")
            self.tenants[tid] = Tenant(tid, "default")
            self.tenant_names["default"] = tid
        self.default_tenant = next(iter(self.tenants))

        # subscriptions and resource groups
        self.subs = {}
        self.sub_names = {}
        for i, s in enumerate(self._get(sc, "subscriptions", list, "subscriptions", [])):
            w = "subscriptions[%d]" % i
            if not isinstance(s, dict):
                self._err(w, "must be an object")
            o = Subscription()
            o.name = self._get(s, "name", str, w) or ("subscription-%d" % i)
            o.id = (self._get(s, "id", str, w) or det_uuid("subscription", o.name)).lower()
            o.tenant_id = self._tenant_ref(s.get("tenant"), w + ".tenant")
            o.state = self._get(s, "state", str, w, "Enabled")
            o.cloud = self._get(s, "cloud", str, w, "AzurePublicCloud")
            if o.cloud not in CLOUDS:
                self._err(w + ".cloud", "'%s' is not one of %s" % (o.cloud, ", ".join(CLOUDS)))
            o.tags = self._get(s, "tags", dict, w, {})
            mbt = self._get(s, "managed_by_tenants", list, w, [])
            if not all(isinstance(x, str) for x in mbt):
                self._err(w + ".managed_by_tenants", "must be a list of tenant ids")
            o.managed_by = [self.tenant_names.get(x.lower(), x) for x in mbt]
            o.rgs = {}
            for j, rg in enumerate(self._get(s, "resource_groups", list, w, [])):
                if isinstance(rg, str):
                    rg = {"name": rg}
                if not isinstance(rg, dict) or not isinstance(rg.get("name"), str):
                    self._err("%s.resource_groups[%d]" % (w, j), "must be a name or {\"name\":..., \"location\":...}")
                o.rgs[rg["name"].lower()] = ResourceGroup(rg["name"], rg.get("location", "westus2"), o.id)
            if o.id in self.subs:
                self._err(w + ".id", "duplicate subscription %s" % o.id)
            self.subs[o.id] = o
            self.sub_names[o.name.lower()] = o.id
        if not self.subs:
            self._err("subscriptions", "at least one subscription is required")

        # identities (UAMIs)
        self.identities = {}
        self.identity_names = collections.defaultdict(list)
        for i, d in enumerate(self._get(sc, "identities", list, "identities", [])):
            self._add_identity(d, "identities[%d]" % i)

        # principals
        self.principals = []
        self.principals_by_name = {}
        for i, d in enumerate(self._get(sc, "principals", list, "principals", [])):
            self._add_principal(d, "principals[%d]" % i)
        if not self.principals:
            self._add_principal({"name": "cmkd", "type": "system-assigned"}, "principals(default)")
        cp = self._get(sc, "cmkd_principal", str, "cmkd_principal")
        if cp is not None and cp not in self.principals_by_name:
            self._err("cmkd_principal", "no principal named '%s'" % cp)
        self.cmkd_principal = cp or self.principals[0].name

        # groups
        self.groups = {}
        for i, g in enumerate(self._get(sc, "groups", list, "groups", [])):
            w = "groups[%d]" % i
            if not isinstance(g, dict):
                self._err(w, "must be an object")
            oid = (self._get(g, "object_id", str, w) or det_uuid("group", g.get("name", i))).lower()
            members = set()
            for j, m in enumerate(self._get(g, "members", list, w, [])):
                members.add(self._principal_id_ref({"principal": m} if not is_uuid(m) else {"principal_id": m},
                                                   "%s.members[%d]" % (w, j)))
            self.groups[oid] = members

        # role definitions
        self.role_defs = {}
        for rid, b in BUILTIN_ROLES.items():
            rd = RoleDefinition()
            rd.id, rd.name, rd.description = rid, b["name"], b["description"]
            rd.actions, rd.not_actions = list(b["actions"]), list(b.get("not_actions", []))
            rd.data_actions, rd.not_data_actions = list(b["data_actions"]), []
            rd.assignable_scopes, rd.builtin = ["/"], True
            self.role_defs[rid] = rd
        self.role_names = dict(ROLE_NAME_TO_ID)
        for i, d in enumerate(self._get(sc, "role_definitions", list, "role_definitions", [])):
            w = "role_definitions[%d]" % i
            if not isinstance(d, dict):
                self._err(w, "must be an object")
            rd = RoleDefinition()
            rd.name = self._get(d, "name", str, w, required=True)
            rd.id = (self._get(d, "id", str, w) or det_uuid("role", rd.name)).lower()
            if not is_uuid(rd.id):
                self._err(w + ".id", "'%s' is not a GUID" % rd.id)
            rd.description = self._get(d, "description", str, w, "")
            for k in ("actions", "not_actions", "data_actions", "not_data_actions"):
                v = self._get(d, k, list, w, [])
                if not all(isinstance(x, str) for x in v):
                    self._err(w + "." + k, "must be a list of strings")
                setattr(rd, k, v)
            rd.assignable_scopes = self._get(d, "assignable_scopes", list, w,
                                             ["/subscriptions/%s" % s for s in self.subs])
            rd.builtin = False
            self.role_defs[rd.id] = rd
            self.role_names[rd.name.lower()] = rd.id

        # vaults and keys
        self.vaults = {}        # host -> Vault
        self.vaults_by_id = {}  # id_key -> Vault
        for i, d in enumerate(self._get(sc, "vaults", list, "vaults", [])):
            self._add_vault(d, "vaults[%d]" % i, now)
        for i, d in enumerate(self._get(sc, "hsms", list, "hsms", [])):
            self._add_vault(d, "hsms[%d]" % i, now, hsm=True)

        # role assignments
        self.role_assignments = collections.OrderedDict()
        self.ra_by_principal = collections.defaultdict(list)
        for i, d in enumerate(self._get(sc, "role_assignments", list, "role_assignments", [])):
            self._add_role_assignment(d, "role_assignments[%d]" % i, now)

        # ARM deny rules
        self.arm_deny = []
        for i, d in enumerate(self._get(sc, "arm_deny", list, "arm_deny", [])):
            self.arm_deny.append(self._parse_deny(d, "arm_deny[%d]" % i))

        # clusters
        self.clusters = collections.OrderedDict()
        pending_replicas = []
        for i, d in enumerate(self._get(sc, "clusters", list, "clusters", [])):
            cl = self._add_cluster(d, "clusters[%d]" % i, now)
            if isinstance(d, dict) and d.get("replica_of"):
                pending_replicas.append((cl, d["replica_of"], "clusters[%d].replica_of" % i))
        for cl, ref, w in pending_replicas:
            src = self._cluster_ref(ref, w, cl.sub)
            cl.replica = {"role": cl.replica.get("role") or "GeoAsyncReplica", "sourceResourceId": src.id,
                          "replicationState": cl.replica.get("replicationState") or "Active"}
            cl.props.setdefault("createMode", "GeoReplica")
            pf = cl.props.setdefault("previewFeatures", [])
            if "GeoReplicas" not in pf:
                pf.append("GeoReplicas")

        # faults
        for i, d in enumerate(self._get(sc, "faults", list, "faults", [])):
            self.faults.append(parse_fault(d, "%s: faults[%d]" % (self.source, i)))

        # initial health: a problem present at load is old news unless the status is given
        for cl in self.clusters.values():
            self._init_health(cl, now)
        self._schedule_rotation(now)

    def _check_settings(self, where):
        s = self.settings
        for k in ("arm_page_size", "kv_page_size", "token_lifetime_s", "log_max"):
            if not isinstance(s[k], int) or isinstance(s[k], bool) or s[k] < 1:
                self._err("%s.%s" % (where, k), "must be a positive integer")
        if not isinstance(s["seed"], int) or isinstance(s["seed"], bool):
            self._err(where + ".seed", "must be an integer")
        if s["kv_page_size"] > 25:
            self._err(where + ".kv_page_size", "Key Vault pages hold at most 25 items")
        for k in ("retry_after_s", "lro_delay_s", "inaccessible_delay_s", "recovery_delay_s", "latency_ms"):
            if not isinstance(s[k], (int, float)) or isinstance(s[k], bool) or s[k] < 0:
                self._err("%s.%s" % (where, k), "must be a non-negative number")
        if s["lro_outcome"] not in ("Succeeded", "Failed", "Never"):
            self._err(where + ".lro_outcome", "must be Succeeded, Failed or Never")
        if s["disabled_key_get"] not in ("ok", "forbidden"):
            self._err(where + ".disabled_key_get", "must be ok or forbidden")
        e = s["lro_error"]
        if not isinstance(e, dict) or not isinstance(e.get("code"), str) or not isinstance(e.get("message"), str):
            self._err(where + ".lro_error", "must be {\"code\": str, \"message\": str}")
        th = s["throttle"]
        if not isinstance(th, dict):
            self._err(where + ".throttle", "must be an object")
        for k in ("reads", "writes", "deletes"):
            b = th.get(k)
            if (not isinstance(b, dict) or not isinstance(b.get("capacity"), (int, float))
                    or not isinstance(b.get("refill"), (int, float)) or b["capacity"] < 1 or b["refill"] < 0):
                self._err("%s.throttle.%s" % (where, k), "must be {\"capacity\": >=1, \"refill\": >=0}")
        av = s["api_versions"]
        if not isinstance(av, dict) or not all(isinstance(v, list) and v and all(isinstance(x, str) for x in v)
                                               for v in av.values()):
            self._err(where + ".api_versions", "must be an object of non-empty lists of strings")
        for k in av:
            if k not in API_VERSIONS:
                self._err(where + ".api_versions", "unknown family '%s' (known: %s)" % (k, ", ".join(API_VERSIONS)))

    # --- references -------------------------------------------------------------

    def _tenant_ref(self, ref, where):
        if ref is None:
            return self.default_tenant
        if not isinstance(ref, str):
            self._err(where, "must be a tenant id or name")
        r = ref.lower()
        if r in self.tenants:
            return r
        if r in self.tenant_names:
            return self.tenant_names[r]
        self._err(where, "no tenant '%s'" % ref)

    def _sub_ref(self, ref, where):
        if ref is None:
            if len(self.subs) == 1:
                return next(iter(self.subs))
            self._err(where, "'subscription' is required when there is more than one subscription")
        if not isinstance(ref, str):
            self._err(where, "must be a subscription id or name")
        r = ref.lower()
        if r in self.subs:
            return r
        if r in self.sub_names:
            return self.sub_names[r]
        self._err(where, "no subscription '%s'" % ref)

    def _rg(self, sub_id, name, where, location=None):
        if not isinstance(name, str) or not name:
            self._err(where, "'resource_group' is required")
        s = self.subs[sub_id]
        rg = s.rgs.get(name.lower())
        if rg is None:
            rg = s.rgs[name.lower()] = ResourceGroup(name, location or "westus2", sub_id)
        return rg.name

    def _identity_ref(self, ref, where):
        if not isinstance(ref, str):
            self._err(where, "must be an identity name or ARM id")
        if ref.startswith("/"):
            ident = self.identities.get(id_key(ref))
            if ident is None:
                self._err(where, "no identity with id '%s'" % ref)
            return ident
        cands = self.identity_names.get(ref.lower(), [])
        if not cands:
            self._err(where, "no identity named '%s'" % ref)
        if len(cands) > 1:
            self._err(where, "identity name '%s' is ambiguous; use its ARM id" % ref)
        return self.identities[cands[0]]

    def _vault_ref(self, ref, where, hsm=None):
        """A vault or Managed HSM by name or ARM id. hsm=True: HSMs only; a plain name that
        both a vault and an HSM carry (their DNS names differ) means the vault."""
        if not isinstance(ref, str):
            self._err(where, "must be a vault name or ARM id")
        if ref.startswith("/"):
            v = self.vaults_by_id.get(id_key(ref))
            if v is not None and hsm and not v.hsm:
                v = None
        else:
            found = [vv for vv in self.vaults.values() if vv.name.lower() == ref.lower() and (not hsm or vv.hsm)]
            v = ([vv for vv in found if not vv.hsm] or found or [None])[0]
        if v is None:
            self._err(where, "no %s '%s'" % ("Managed HSM" if hsm else "vault", ref))
        return v

    def _cluster_ref(self, ref, where, sub_hint=None):
        if not isinstance(ref, str):
            self._err(where, "must be a cluster name or ARM id")
        if ref.startswith("/"):
            cl = self.clusters.get(id_key(ref))
            if cl is None:
                self._err(where, "no cluster with id '%s'" % ref)
            return cl
        found = [c for c in self.clusters.values() if c.name.lower() == ref.lower()]
        if len(found) > 1 and sub_hint:
            found = [c for c in found if c.sub == sub_hint]
        if not found:
            self._err(where, "no cluster named '%s'" % ref)
        if len(found) > 1:
            self._err(where, "cluster name '%s' is ambiguous; use its ARM id" % ref)
        return found[0]

    def _principal_id_ref(self, d, where):
        """Object id from {"principal": name} | {"identity": name/id} | {"principal_id"/"object_id": guid}."""
        if d.get("principal") is not None:
            if not isinstance(d["principal"], str):
                self._err(where + ".principal", "must be a principal name")
            p = self.principals_by_name.get(d["principal"])
            if p is None:
                self._err(where, "no principal named '%s'" % d["principal"])
            return p.object_id
        if d.get("identity") is not None:
            return self._identity_ref(d["identity"], where).principal_id
        oid = d.get("principal_id") or d.get("object_id")
        if not isinstance(oid, str) or not is_uuid(oid):
            self._err(where, "name the principal with 'principal', 'identity' or a GUID 'principal_id'")
        return oid.lower()

    # --- adders (also used by control ops) --------------------------------------

    def _add_identity(self, d, where):
        if not isinstance(d, dict):
            self._err(where, "must be an object")
        o = Identity()
        o.name = self._get(d, "name", str, where, required=True)
        o.sub = self._sub_ref(d.get("subscription"), where + ".subscription")
        o.rg = self._rg(o.sub, d.get("resource_group"), where + ".resource_group")
        o.location = self._get(d, "location", str, where, "westus2")
        o.tenant_id = self._tenant_ref(d.get("tenant") or self.subs[o.sub].tenant_id, where + ".tenant")
        o.principal_id = (self._get(d, "principal_id", str, where) or det_uuid("uami-principal", o.sub, o.rg,
                                                                                 o.name)).lower()
        o.client_id = (self._get(d, "client_id", str, where) or det_uuid("uami-client", o.sub, o.rg,
                                                                           o.name)).lower()
        o.tags = self._get(d, "tags", dict, where, {})
        o.deleted = bool(self._get(d, "deleted", bool, where, False))
        k = id_key(o.id)
        if k in self.identities:
            self._err(where, "duplicate identity %s" % o.id)
        self.identities[k] = o
        self.identity_names[o.name.lower()].append(k)
        return o

    def _add_principal(self, d, where):
        if not isinstance(d, dict):
            self._err(where, "must be an object")
        p = Principal()
        p.name = self._get(d, "name", str, where, required=True)
        if p.name in self.principals_by_name:
            self._err(where, "duplicate principal name '%s'" % p.name)
        p.type = self._get(d, "type", str, where, "system-assigned")
        if p.type not in ("system-assigned", "user-assigned", "app"):
            self._err(where + ".type", "'%s' is not system-assigned, user-assigned or app" % p.type)
        p.trusted_service = bool(self._get(d, "trusted_service", bool, where, False))
        p.disabled = bool(self._get(d, "disabled", bool, where, False))
        if p.type == "user-assigned":
            ident = self._identity_ref(d.get("identity"), where + ".identity")
            p.identity_id = ident.id
            p.object_id, p.client_id, p.tenant_id = ident.principal_id, ident.client_id, ident.tenant_id
        else:
            p.tenant_id = self._tenant_ref(d.get("tenant"), where + ".tenant")
            p.object_id = (self._get(d, "object_id", str, where) or det_uuid("principal-oid", p.name)).lower()
            p.client_id = (self._get(d, "client_id", str, where) or det_uuid("principal-appid", p.name)).lower()
        if p.type == "app":
            p.client_secret = self._get(d, "client_secret", str, where)
            fed = d.get("federated")
            if fed is not None and not isinstance(fed, (bool, dict)):
                self._err(where + ".federated", "must be true or {\"issuer\": ..., \"subject\": ...}")
            p.federated = fed
            if p.client_secret is None and not fed:
                self._err(where, "an app principal needs 'client_secret' or 'federated'")
        self.principals.append(p)
        self.principals_by_name[p.name] = p
        return p

    def _add_vault(self, d, where, now, hsm=None):
        """A vault, or a Managed HSM (hsm=True from the 'hsms' list, or 'hsm': true / 'type':
        'managed-hsm' in a 'vaults' entry)."""
        if not isinstance(d, dict):
            self._err(where, "must be an object")
        v = Vault()
        v.name = self._get(d, "name", str, where, required=True)
        if not (3 <= len(v.name) <= 24) or not all(c.isalnum() or c == "-" for c in v.name):
            self._err(where + ".name", "'%s' is not a vault name (3-24 letters, digits, '-')" % v.name)
        vtype = self._get(d, "type", str, where)
        if vtype is not None and vtype not in ("vault", "managed-hsm"):
            self._err(where + ".type", "must be 'vault' or 'managed-hsm'")
        flag = self._get(d, "hsm", bool, where)
        if hsm is None:
            hsm = bool(flag) or vtype == "managed-hsm"
        elif flag is False or vtype == "vault":
            self._err(where, "an entry of 'hsms' is a Managed HSM ('hsm' and 'type' cannot say otherwise)")
        v.hsm = hsm
        v.sub = self._sub_ref(d.get("subscription"), where + ".subscription")
        v.rg = self._rg(v.sub, d.get("resource_group"), where + ".resource_group")
        v.location = self._get(d, "location", str, where, "westus2")
        v.tenant_id = self._tenant_ref(d.get("tenant") or self.subs[v.sub].tenant_id, where + ".tenant")
        v.sku = self._get(d, "sku", str, where, "Standard_B1" if v.hsm else "standard")
        v.soft_delete = bool(self._get(d, "soft_delete", bool, where, True))
        v.retention_days = self._get(d, "retention_days", int, where, 90)
        if not 7 <= v.retention_days <= 90:
            self._err(where + ".retention_days", "must be 7..90")
        # A vault that never set it has no enablePurgeProtection; an HSM's defaults to true (spec).
        v.purge_protection = self._get(d, "purge_protection", bool, where, True if v.hsm else None)
        v.rbac = bool(self._get(d, "rbac", bool, where, True))
        if v.hsm and not v.rbac:
            self._err(where + ".rbac", "a Managed HSM authorizes with its local RBAC only")
        v.public_network_access = self._get(d, "public_network_access", str, where, "Enabled")
        acls = self._get(d, "network_acls", dict, where, {})
        for k in ("ipRules", "virtualNetworkRules"):
            if not isinstance(acls.get(k, []), list):
                self._err(where + ".network_acls." + k, "must be a list")
        v.network_acls = {"bypass": acls.get("bypass", "AzureServices"),
                          "defaultAction": acls.get("defaultAction", "Allow"),
                          "ipRules": [r if isinstance(r, dict) else {"value": r} for r in acls.get("ipRules", [])],
                          "virtualNetworkRules": acls.get("virtualNetworkRules", [])}
        self._check_acls(v.network_acls, where + ".network_acls")
        v.cloud = self._get(d, "cloud", str, where, self.subs[v.sub].cloud)
        if v.cloud not in CLOUDS:
            self._err(where + ".cloud", "'%s' is not one of %s" % (v.cloud, ", ".join(CLOUDS)))
        v.tags = self._get(d, "tags", dict, where, {})
        v.trusted_loopback = bool(self._get(d, "trusted_loopback", bool, where, False))
        v.created = self._time_or(d, "created", "now-400d", where, now)
        deleted = self._get(d, "deleted", bool, where, False)
        v.deleted_at = self._time(d.get("deleted_at"), where + ".deleted_at", now)
        if deleted and v.deleted_at is None:
            v.deleted_at = int(now) - 3600
        v.access_policies = []
        if v.hsm and d.get("access_policies"):
            self._err(where + ".access_policies", "a Managed HSM has no access policies (local RBAC only)")
        for j, ap in enumerate(self._get(d, "access_policies", list, where, [])):
            v.access_policies.append(self._parse_access_policy(ap, "%s.access_policies[%d]" % (where, j), v))
        v.keys = collections.OrderedDict()
        v.deleted_keys = collections.OrderedDict()
        v.local_ras = collections.OrderedDict()
        v.local_roles = collections.OrderedDict()
        if not v.hsm and (d.get("role_assignments") or d.get("role_definitions")):
            self._err(where, "only a Managed HSM has local role assignments and definitions; give vault roles in "
                             "the top-level 'role_assignments'")
        if v.host in self.vaults:
            self._err(where + ".name", "duplicate vault '%s'" % v.name)
        self.vaults[v.host] = v
        self.vaults_by_id[id_key(v.id)] = v
        for j, kd in enumerate(self._get(d, "keys", list, where, [])):
            self._add_key(v, kd, "%s.keys[%d]" % (where, j), now)
        for j, rd in enumerate(self._get(d, "role_definitions", list, where, [])):
            self._add_hsm_role_def(v, rd, "%s.role_definitions[%d]" % (where, j))
        for j, ra in enumerate(self._get(d, "role_assignments", list, where, [])):
            self._add_hsm_ra(v, ra, "%s.role_assignments[%d]" % (where, j), now)
        return v

    # --- Managed HSM local RBAC ------------------------------------------------------

    def hsm_role_def(self, v, rid):
        return HSM_BUILTIN_DEFS.get(rid) or v.local_roles.get(rid)

    def _add_hsm_role_def(self, v, d, where):
        if not isinstance(d, dict):
            self._err(where, "must be an object")
        rd = RoleDefinition()
        rd.name = self._get(d, "name", str, where, required=True)
        rd.id = (self._get(d, "id", str, where) or det_uuid("hsm-role", v.name, rd.name)).lower()
        if not is_uuid(rd.id):
            self._err(where + ".id", "'%s' is not a GUID" % rd.id)
        if rd.id in HSM_BUILTIN_DEFS or rd.id in v.local_roles or rd.name.lower() in HSM_ROLE_NAME_TO_ID:
            self._err(where, "duplicate role definition '%s'" % rd.name)
        rd.description = self._get(d, "description", str, where, "")
        for k in ("actions", "not_actions", "data_actions", "not_data_actions"):
            val = self._get(d, k, list, where, [])
            if not all(isinstance(x, str) for x in val):
                self._err(where + "." + k, "must be a list of strings")
            setattr(rd, k, list(val))
        rd.assignable_scopes, rd.builtin = ["/"], False
        v.local_roles[rd.id] = rd
        return rd

    def _hsm_role_ref(self, v, role, where):
        if not isinstance(role, str):
            self._err(where, "a role is a built-in Managed HSM role name, a GUID or a local role_definitions name")
        rid = role.lower().rsplit("/", 1)[-1]
        if self.hsm_role_def(v, rid):
            return rid
        rid = HSM_ROLE_NAME_TO_ID.get(role.lower())
        if rid:
            return rid
        for rd in v.local_roles.values():
            if rd.name.lower() == role.lower():
                return rd.id
        self._err(where, "unknown Managed HSM role '%s' (a built-in Managed HSM role name, a GUID or a local "
                         "role_definitions name of HSM '%s')" % (role, v.name))

    def _add_hsm_ra(self, v, d, where, now):
        if not isinstance(d, dict):
            self._err(where, "must be an object")
        ra = RoleAssignment()
        ra.role_id = self._hsm_role_ref(v, d.get("role"), where + ".role")
        ra.principal_id = self._principal_id_ref(d, where)
        ra.principal_type = self._get(d, "principal_type", str, where, "ServicePrincipal")
        sc = d.get("scope", "/")
        ra.scope = hsm_scope_norm(sc)
        if ra.scope is None:
            self._err(where + ".scope", "'%s' is not a Managed HSM scope ('/', '/keys' or '/keys/{name}')" % (sc,))
        ra.id = (self._get(d, "id", str, where) or det_uuid("hsm-ra", v.name, ra.scope, ra.role_id,
                                                            ra.principal_id)).lower()
        if ra.id in v.local_ras:
            self._err(where, "duplicate role assignment %s" % ra.id)
        ra.created = self._time_or(d, "created", "now-30d", where, now)
        ra.description = None
        v.local_ras[ra.id] = ra
        return ra

    def hsm_granted(self, v, oid, data_action, scope):
        """True if a local role assignment of the principal (or a group of it) at 'scope' or above
        grants data_action (an HSM data action)."""
        ids = self.effective_ids(oid)
        for ra in v.local_ras.values():
            if ra.principal_id not in ids or not hsm_scope_covers(ra.scope, scope):
                continue
            rd = self.hsm_role_def(v, ra.role_id)
            if rd and rd.grants_data(data_action):
                return True
        return False

    def _check_acls(self, acls, where):
        if acls["bypass"] not in ("AzureServices", "None"):
            self._err(where + ".bypass", "must be AzureServices or None")
        if acls["defaultAction"] not in ("Allow", "Deny"):
            self._err(where + ".defaultAction", "must be Allow or Deny")
        for r in acls["ipRules"]:
            try:
                ipaddress.ip_network(r.get("value", ""), strict=False)
            except (ValueError, AttributeError, TypeError):
                self._err(where + ".ipRules", "'%s' is not an address or CIDR range" % r)

    def _parse_access_policy(self, ap, where, v):
        if not isinstance(ap, dict):
            self._err(where, "must be an object")
        oid = self._principal_id_ref(ap, where)
        tid = self._tenant_ref(ap.get("tenant"), where + ".tenant") if ap.get("tenant") else v.tenant_id
        perms = ap.get("permissions")
        if perms is None:
            perms = {"keys": ap.get("keys", []), "secrets": ap.get("secrets", []),
                     "certificates": ap.get("certificates", [])}
        if not isinstance(perms, dict) or not all(isinstance(x, list) and all(isinstance(y, str) for y in x)
                                                  for x in perms.values()):
            self._err(where, "'keys' (or 'permissions.keys') must be a list of permission names")
        out = {"tenantId": tid, "objectId": oid, "permissions": perms}
        if ap.get("application_id"):
            out["applicationId"] = ap["application_id"]
        return out

    def _add_key(self, v, kd, where, now):
        if not isinstance(kd, dict):
            self._err(where, "must be an object")
        k = Key()
        k.name = self._get(kd, "name", str, where, required=True)
        if not k.name or not all(c.isalnum() or c == "-" for c in k.name):
            self._err(where + ".name", "'%s' is not a key name (letters, digits, '-')" % k.name)
        k.kty = self._get(kd, "kty", str, where, "RSA-HSM" if v.hsm else "RSA")
        if k.kty not in ("RSA", "RSA-HSM", "EC", "EC-HSM", "oct", "oct-HSM"):
            self._err(where + ".kty", "'%s' is not a key type" % k.kty)
        if v.hsm and k.kty not in HSM_KEY_TYPES:
            self._err(where + ".kty", "a Managed HSM holds only HSM-protected keys (%s), not '%s'"
                      % (", ".join(HSM_KEY_TYPES), k.kty))
        k.size = self._get(kd, "size", int, where, 2048)
        k.crv = self._get(kd, "crv", str, where, "P-256")
        k.key_ops = self._get(kd, "key_ops", list, where,
                              ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"])
        if not all(isinstance(o, str) for o in k.key_ops):
            self._err(where + ".key_ops", "must be a list of operation names")
        k.tags = self._get(kd, "tags", dict, where, {})
        k.managed = bool(self._get(kd, "managed", bool, where, False))
        k.exportable = bool(self._get(kd, "exportable", bool, where, False))
        k.rotation_policy = self._get(kd, "rotation_policy", dict, where, None)
        if k.rotation_policy is not None:
            self._check_policy(k.rotation_policy, where + ".rotation_policy")
        k.policy_created = k.policy_updated = int(now) - 86400 * 30
        k.deleted_at = None
        k.versions = []
        vers = self._get(kd, "versions", list, where, None)
        if vers is None:
            vers = [{}]
        if not vers:
            self._err(where + ".versions", "a key needs at least one version")
        n = len(vers)
        for j, vd in enumerate(vers):
            w = "%s.versions[%d]" % (where, j)
            if not isinstance(vd, dict):
                self._err(w, "must be an object")
            default_created = int(now) - 86400 * 30 * (n - j)
            self._add_version(v, k, vd, w, now, default_created)
        deleted = kd.get("deleted", False)
        if deleted not in (False, True, "soft", "purged"):
            self._err(where + ".deleted", "must be false, true/'soft' or 'purged'")
        if k.name.lower() in v.keys or k.name.lower() in v.deleted_keys:
            self._err(where + ".name", "duplicate key '%s' in vault '%s'" % (k.name, v.name))
        if deleted == "purged":
            return k
        if deleted:
            k.deleted_at = self._time_or(kd, "deleted_at", "now-1h", where, now)
            if v.soft_delete:
                v.deleted_keys[k.name.lower()] = k
            return k
        v.keys[k.name.lower()] = k
        return k

    def _check_policy(self, p, where):
        la = p.get("lifetimeActions", [])
        if not isinstance(la, list):
            self._err(where + ".lifetimeActions", "must be a list")
        for i, a in enumerate(la):
            w = "%s.lifetimeActions[%d]" % (where, i)
            if not isinstance(a, dict) or not isinstance(a.get("trigger"), dict) or not isinstance(a.get("action"),
                                                                                                 dict):
                self._err(w, "must be {\"trigger\": {...}, \"action\": {\"type\": ...}}")
            if not isinstance(a["action"].get("type"), str) or a["action"]["type"].lower() not in ("rotate", "notify"):
                self._err(w + ".action.type", "must be Rotate or Notify")
            for tk in ("timeAfterCreate", "timeBeforeExpiry"):
                tv = a["trigger"].get(tk)
                if tv is not None and parse_iso_duration(tv) is None:
                    self._err("%s.trigger.%s" % (w, tk), "'%s' is not an ISO 8601 duration" % tv)
        at = p.get("attributes", {})
        if not isinstance(at, dict):
            self._err(where + ".attributes", "must be an object")
        if at.get("expiryTime") is not None and parse_iso_duration(at["expiryTime"]) is None:
            self._err(where + ".attributes.expiryTime", "'%s' is not an ISO 8601 duration" % at["expiryTime"])

    def _add_version(self, v, k, vd, where, now, default_created):
        kv = KeyVersion()
        ver = vd.get("version") or det_hex32(v.host, k.name, len(k.versions), self.settings["seed"])
        if not isinstance(ver, str) or len(ver) != 32 or any(c not in "0123456789abcdefABCDEF" for c in ver):
            self._err(where + ".version", "a key version is 32 hex digits")
        kv.version = ver.lower()
        if k.find_version(kv.version):
            self._err(where + ".version", "duplicate version %s" % kv.version)
        kv.enabled = bool(self._get(vd, "enabled", bool, where, True))
        c = vd.get("created")
        kv.created = self._time(default_created if c is None else c, where + ".created", now)
        u = vd.get("updated")
        kv.updated = self._time(kv.created if u is None else u, where + ".updated", now)
        kv.nbf = self._time(vd.get("nbf"), where + ".nbf", now)
        kv.exp = self._time(vd.get("exp"), where + ".exp", now)
        kv.tags = self._get(vd, "tags", dict, where, None)
        if k.kty.startswith("RSA"):
            size = vd.get("size", k.size)
            if not isinstance(size, int) or size < 512 or size % 8:
                self._err(where + ".size", "RSA size must be a multiple of 8 bits")
            nb = bytearray(det_bytes(size // 8, "n", v.host, k.name, kv.version))
            nb[0] |= 0x80
            nb[-1] |= 0x01
            kv.material = {"n": b64url(bytes(nb)), "e": "AQAB"}
        elif k.kty.startswith("EC"):
            ln = {"P-256": 32, "P-256K": 32, "P-384": 48, "P-521": 66}.get(k.crv, 32)
            kv.material = {"crv": k.crv, "x": b64url(det_bytes(ln, "x", v.host, k.name, kv.version)),
                           "y": b64url(det_bytes(ln, "y", v.host, k.name, kv.version))}
        else:
            kv.material = {}
        k.versions.append(kv)
        return kv

    def _add_role_assignment(self, d, where, now):
        if not isinstance(d, dict):
            self._err(where, "must be an object")
        ra = RoleAssignment()
        role = self._get(d, "role", str, where, required=True)
        rid = role.lower().rsplit("/", 1)[-1]
        if rid not in self.role_defs:
            rid = self.role_names.get(role.lower())
        if rid is None:
            self._err(where + ".role", "unknown role '%s' (a built-in name, a GUID or a role_definitions name)" % role)
        ra.role_id = rid
        ra.principal_id = self._principal_id_ref(d, where)
        ra.principal_type = self._get(d, "principal_type", str, where, "ServicePrincipal")
        ra.scope = self._scope_ref(d, where)
        ra.id = (self._get(d, "id", str, where) or det_uuid("ra", ra.scope.lower(), ra.role_id, ra.principal_id)).lower()
        if ra.id in self.role_assignments:
            self._err(where, "duplicate role assignment %s" % ra.id)
        ra.created = self._time_or(d, "created", "now-30d", where, now)
        ra.description = d.get("description")
        self.role_assignments[ra.id] = ra
        self.ra_by_principal[ra.principal_id].append(ra)
        return ra

    def _scope_ref(self, d, where):
        if d.get("scope") is not None:
            s = d["scope"]
            if not isinstance(s, str) or not s.startswith("/"):
                self._err(where + ".scope", "a scope is an ARM id starting with '/'")
            return s.rstrip("/") or "/"
        if d.get("vault") is not None:
            v = self._vault_ref(d["vault"], where + ".vault")
            if d.get("key") is not None and not isinstance(d["key"], str):
                self._err(where + ".key", "must be a key name")
            if d.get("key"):
                return v.id + "/keys/" + d["key"]
            return v.id
        if d.get("resource_group") is not None:
            sub = self._sub_ref(d.get("subscription"), where + ".subscription")
            return arm_id(sub, self._rg(sub, d["resource_group"], where + ".resource_group"))
        if d.get("subscription") is not None:
            return arm_id(self._sub_ref(d["subscription"], where + ".subscription"))
        self._err(where, "name the scope with 'scope', 'vault' (+ 'key'), 'resource_group' or 'subscription'")

    def _parse_deny(self, d, where):
        if not isinstance(d, dict):
            self._err(where, "must be an object")
        oid = self._principal_id_ref(d, where)
        scope = self._scope_ref(d, where)
        actions = self._get(d, "actions", list, where, ["read", "write", "delete", "assign"])
        for a in actions:
            if a not in ("read", "write", "delete", "assign"):
                self._err(where + ".actions", "'%s' is not read, write, delete or assign" % a)
        return {"principal_id": oid, "scope": scope, "actions": list(actions)}

    def _add_cluster(self, d, where, now):
        if not isinstance(d, dict):
            self._err(where, "must be an object")
        cl = Cluster()
        cl.name = self._get(d, "name", str, where, required=True)
        cl.sub = self._sub_ref(d.get("subscription"), where + ".subscription")
        cl.rg = self._rg(cl.sub, d.get("resource_group"), where + ".resource_group")
        cl.location = self._get(d, "location", str, where, "westus2")
        cl.tags = self._get(d, "tags", dict, where, {})
        cl.created = self._time_or(d, "created", "now-200d", where, now)
        cl.modified = self._time_or(d, "modified", cl.created, where, now)
        cl.modified_by = None
        cl.uami = collections.OrderedDict()
        cl.system_identity = None
        if self._get(d, "system_assigned", bool, where, False):
            cl.system_identity = {"principalId": det_uuid("cluster-sami", cl.sub, cl.rg, cl.name),
                                  "tenantId": self.subs[cl.sub].tenant_id}
        for j, ref in enumerate(self._get(d, "identities", list, where, [])):
            self._attach_identity(cl, self._identity_ref(ref, "%s.identities[%d]" % (where, j)))
        cl.cmk = None
        cmk = self._get(d, "cmk", dict, where)
        if cmk is not None:
            ident = self._identity_ref(cmk.get("identity"), where + ".cmk.identity")
            self._attach_identity(cl, ident)
            cl.cmk = {"identity_id": ident.id, "key_url": self._key_url_ref(cmk, where + ".cmk")}
        props = self._get(d, "properties", dict, where, {})
        base = {
            "administrator": {"userName": d.get("admin_user", "mongoAdmin")},
            "serverVersion": d.get("server_version", "7.0"),
            "storage": {"sizeGb": d.get("storage_gb", 128), "type": "PremiumSSD"},
            "compute": {"tier": d.get("tier", "M30")},
            "sharding": {"shardCount": d.get("shard_count", 1)},
            "highAvailability": {"targetMode": d.get("high_availability", "Disabled")},
            "backup": {"earliestRestoreTime": iso_utc(max(cl.created, int(now) - 35 * 86400), frac=False)},
            "previewFeatures": [],
            "infrastructureVersion": "2.0",
            "publicNetworkAccess": d.get("public_network_access", "Enabled"),
            "connectionString": "mongodb+srv://<user>:<password>@%s.global.mongocluster.cosmos.azure.com"
                                % cl.name.lower(),
            "dataApi": {"mode": "Disabled"},
            "authConfig": {"allowedModes": ["NativeAuth"]},
            "createMode": d.get("create_mode", "Default"),
            "privateEndpointConnections": [],
            "networkBypassMode": "None",
        }
        cl.props = _deep_merge(base, props)
        for k in ("provisioningState", "clusterStatus", "encryption", "replica"):
            if k in cl.props:
                self._err(where + ".properties." + k, "set this with the cluster's own keys "
                          "(provisioning_state, status, cmk, replica_of)")
        cl.replica = {"role": d.get("replica_role"), "replicationState": d.get("replication_state")}
        if not d.get("replica_of"):
            cl.replica = {"role": d.get("replica_role") or "Primary",
                          "replicationState": d.get("replication_state") or "Active"}
        cl.provisioning_state = self._get(d, "provisioning_state", str, where, "Succeeded")
        cl.base_status = self._get(d, "status", str, where)
        cl.sticky_status = bool(self._get(d, "sticky_status", bool, where, False))
        cl.op = None
        cl.access_ok, cl.access_reasons, cl.access_changed, cl.access_next = True, [], now, None
        k = id_key(cl.id)
        if k in self.clusters:
            self._err(where, "duplicate cluster %s" % cl.id)
        self.clusters[k] = cl
        return cl

    def _key_url_ref(self, cmk, where):
        if cmk.get("key_url") is not None:
            u = cmk["key_url"]
            if not isinstance(u, str):
                self._err(where + ".key_url", "must be a string")
            return u
        if cmk.get("vault") is None and cmk.get("hsm") is not None:
            v = self._vault_ref(cmk.get("hsm"), where + ".hsm", hsm=True)
        else:
            v = self._vault_ref(cmk.get("vault"), where + ".vault")
        kn = cmk.get("key")
        if not isinstance(kn, str):
            self._err(where + ".key", "'key' (a key name) is required with 'vault'")
        key = v.keys.get(kn.lower()) or v.deleted_keys.get(kn.lower())
        ver = cmk.get("version")
        base = "https://%s/keys/%s" % (v.host, key.name if key else kn)
        if ver is None:
            return base
        if key is None:
            self._err(where + ".version", "cannot pin a version of key '%s', which the vault does not hold" % kn)
        if ver == "current":
            return base + "/" + key.latest().version
        if isinstance(ver, int) and not isinstance(ver, bool):
            if not -len(key.versions) <= ver < len(key.versions):
                self._err(where + ".version", "key '%s' has %d versions" % (kn, len(key.versions)))
            return base + "/" + key.versions[ver].version
        if isinstance(ver, str) and key.find_version(ver):
            return base + "/" + ver.lower()
        if isinstance(ver, str) and len(ver) == 32:
            return base + "/" + ver.lower()  # a version the key does not have: a broken pin
        self._err(where + ".version", "must be null, 'current', an index or a 32-hex version")

    def _attach_identity(self, cl, ident, refresh=False):
        """Adds the UAMI to the cluster's identity map; refresh (an ARM write naming it) also
        re-reads its ids, as assigning an identity again does."""
        k = id_key(ident.id)
        if k not in cl.uami or refresh:
            cl.uami[k] = {"id": ident.id, "principalId": ident.principal_id, "clientId": ident.client_id}

    # --- principals and tokens -------------------------------------------------

    def principal_by_oid(self, oid):
        for p in self.principals:
            if p.object_id == oid:
                return p
        return None

    def effective_ids(self, oid):
        ids = {oid}
        changed = True
        while changed:
            changed = False
            for g, members in self.groups.items():
                if g not in ids and members & ids:
                    ids.add(g)
                    changed = True
        return ids

    def issue_token(self, p, resource, kind, cloud, t):
        life = self.settings["token_lifetime_s"]
        rec = TokenRec()
        rec.principal, rec.kind, rec.cloud, rec.aud = p.name, kind, cloud, resource
        rec.tid, rec.oid, rec.appid = p.tenant_id, p.object_id, p.client_id
        rec.iat, rec.exp, rec.revoked = int(t), int(t) + life, False
        header = {"typ": "JWT", "alg": "RS256", "kid": "twin-" + det_hex32("kid", rec.tid)[:8]}
        claims = {"aud": resource, "iss": "https://sts.windows.net/%s/" % rec.tid, "iat": rec.iat,
                  "nbf": rec.iat - 300, "exp": rec.exp, "aio": b64url(os.urandom(12)), "appid": rec.appid,
                  "appidacr": "2" if p.type == "app" else "2", "idp": "https://sts.windows.net/%s/" % rec.tid,
                  "idtyp": "app", "oid": rec.oid, "rh": b64url(os.urandom(9)), "sub": rec.oid, "tid": rec.tid,
                  "uti": b64url(os.urandom(16)), "ver": "1.0"}
        if p.identity_id:
            claims["xms_mirid"] = p.identity_id
        tok = "%s.%s.%s" % (b64url(json.dumps(header, separators=(",", ":")).encode()),
                            b64url(json.dumps(claims, separators=(",", ":")).encode()), b64url(os.urandom(256)))
        self.tokens[tok] = rec
        if len(self.tokens) > 50000:  # bounded: drop expired tokens, then the oldest
            for old in [k for k, r in self.tokens.items() if r.exp <= t]:
                del self.tokens[old]
            for old in list(self.tokens)[:max(0, len(self.tokens) - 45000)]:
                del self.tokens[old]
        return tok, rec

    # --- throttling ------------------------------------------------------------

    def throttle(self, oid, scope_key, kind, t):
        """Takes one request from the principal's bucket (and the scope-wide one). Returns
        (allowed, remaining, retry_after)."""
        th = self.settings["throttle"]
        conf = th[kind]
        b = self.buckets.get((oid, scope_key, kind))
        if b is None:
            b = self.buckets[(oid, scope_key, kind)] = Bucket(conf["capacity"], conf["refill"], t)
        g = self.buckets.get(("*", scope_key, kind))
        f = th.get("global_factor", 15) or 15
        if g is None:
            g = self.buckets[("*", scope_key, kind)] = Bucket(conf["capacity"] * f, conf["refill"] * f, t)
        if not th.get("enabled", True):
            return True, int(b.peek(t)), 0
        if g.peek(t) < 1.0:
            ok, ra = g.take(t)
            return False, 0, ra
        ok, rem = b.take(t)
        if not ok:
            return False, 0, rem
        g.take(t)
        return True, rem, 0

    # --- ARM authorization -----------------------------------------------------

    def arm_denied(self, oid, scope, action):
        ids = self.effective_ids(oid)
        for d in self.arm_deny:
            if d["principal_id"] in ids and action in d["actions"] and scope_is_at_or_above(d["scope"], scope):
                return d
        return None

    # --- Key Vault authorization ----------------------------------------------

    def kv_granted(self, v, oid, tid, data_action, ap_perms, key_name=None):
        """True if the principal may perform data_action (RBAC vault) or holds one of
        ap_perms (access-policy vault) on the vault (and key)."""
        if v.hsm:
            return self.hsm_granted(v, oid, HSM_ACTION.get(data_action, data_action),
                                    "/keys/" + key_name if key_name else "/keys")
        ids = self.effective_ids(oid)
        if v.rbac:
            scope = v.id + ("/keys/" + key_name if key_name else "")
            for pid in ids:
                for ra in self.ra_by_principal.get(pid, ()):
                    rd = self.role_defs.get(ra.role_id)
                    if rd and scope_is_at_or_above(ra.scope, scope) and rd.grants_data(data_action):
                        return True
            return False
        for ap in v.access_policies:
            if ap["objectId"] in ids and ap["tenantId"] == tid:
                have = {p.lower() for p in ap["permissions"].get("keys", [])}
                if have & KV_AP_ALL or any(p.lower() in have for p in ap_perms):
                    return True
        return False

    def kv_network(self, v, principal, client_ip):
        """None if the vault's network rules let this caller in, else (inner code, message)."""
        trusted = (principal is not None and principal.trusted_service) or v.trusted_loopback
        bypass = v.network_acls.get("bypass") == "AzureServices"
        caller = "appid=%s;oid=%s;iss=https://sts.windows.net/%s/" % (
            principal.client_id if principal else "-", principal.object_id if principal else "-",
            principal.tenant_id if principal else "-")
        if str(v.public_network_access).lower() == "disabled":
            if trusted and bypass:
                return None
            return ("ForbiddenByConnection", "Connection is not an approved private link and caller was ignored "
                    "because bypass is not set to 'AzureServices' and PublicNetworkAccess is set to 'Disabled'. "
                    "\r\nVault: %s;location=%s" % (v.name, v.location))
        if v.network_acls.get("defaultAction") == "Deny":
            try:
                ip = ipaddress.ip_address(client_ip)
                for r in v.network_acls.get("ipRules", []):
                    if ip in ipaddress.ip_network(r["value"], strict=False):
                        return None
            except ValueError:
                pass
            if trusted and bypass:
                return None
            return ("ForbiddenByFirewall", "Client address is not authorized and caller is not a trusted service."
                    "\r\nClient address: %s\r\nCaller: %s\r\nVault: %s;location=%s"
                    % (client_ip, caller, v.name, v.location))
        return None

    @staticmethod
    def vault_lets_trusted_services_in(v):
        open_ = str(v.public_network_access).lower() != "disabled" and v.network_acls.get("defaultAction") != "Deny"
        return open_ or v.network_acls.get("bypass") == "AzureServices"

    # --- key URLs ---------------------------------------------------------------

    @staticmethod
    def parse_key_url(u):
        """'https://{host}[:443]/keys/{name}[/{version}][/]' -> (host, name, version|None) or None."""
        if not isinstance(u, str) or not u.lower().startswith("https://"):
            return None
        rest = u[8:]
        if "?" in rest or "#" in rest:
            return None
        host, _, path = rest.partition("/")
        host = host.lower()
        if host.endswith(":443"):
            host = host[:-4]
        parts = [p for p in path.split("/")]
        if parts and parts[-1] == "":
            parts = parts[:-1]
        if len(parts) not in (2, 3) or parts[0] != "keys" or not parts[1]:
            return None
        ver = parts[2].lower() if len(parts) == 3 else None
        if ver is not None and (len(ver) != 32 or any(c not in "0123456789abcdef" for c in ver)):
            return None
        return host, parts[1], ver

    def resolve_key(self, u):
        """-> (vault|None, key|None, version obj|None, pinned version str|None)."""
        pk = self.parse_key_url(u)
        if pk is None:
            return None, None, None, None
        host, name, ver = pk
        v = self.vaults.get(host)
        if v is None or v.deleted_at is not None:
            return None, None, None, ver
        k = v.keys.get(name.lower())
        if k is None:
            return v, None, None, ver
        kv = k.find_version(ver) if ver else k.latest()
        return v, k, kv, ver

    # --- cluster health -------------------------------------------------------

    def eval_access(self, cl, t):
        """What the DocumentDB service sees through the cluster's identity at time t:
        (ok, reasons, next time the answer may change by itself)."""
        if cl.cmk is None:
            return True, [], None
        reasons = []
        nxt = None
        ident = self.identities.get(id_key(cl.cmk["identity_id"]))
        if ident is None or ident.deleted:
            reasons.append("identity_deleted")
            ident = None
        else:
            rec = cl.uami.get(id_key(ident.id))
            if rec is None:
                reasons.append("identity_not_assigned")
            elif rec["principalId"] != ident.principal_id:
                reasons.append("identity_recreated")
        pk = self.parse_key_url(cl.cmk["key_url"])
        if pk is None:
            reasons.append("key_url_invalid")
            return False, reasons, None
        v = self.vaults.get(pk[0])
        if v is None or v.deleted_at is not None:
            reasons.append("vault_deleted")
            return False, reasons, None
        if not self.vault_lets_trusted_services_in(v):
            reasons.append("vault_network_blocked")
        if ident is not None:
            if ident.tenant_id != v.tenant_id:
                reasons.append("cross_tenant")
            elif v.rbac:
                for da in (DATA_KEY_READ, DATA_KEY_WRAP, DATA_KEY_UNWRAP):
                    if not self.kv_granted(v, ident.principal_id, ident.tenant_id, da, (), pk[1]):
                        reasons.append("rbac_role_missing")
                        break
            else:
                for perm in ("get", "list", "wrapKey", "unwrapKey"):
                    if not self.kv_granted(v, ident.principal_id, ident.tenant_id, "", (perm,), pk[1]):
                        reasons.append("access_policy_missing")
                        break
        k = v.keys.get(pk[1].lower())
        if k is None:
            reasons.append("key_deleted" if pk[1].lower() in v.deleted_keys else "key_not_found")
            return False, reasons, None
        kv = k.find_version(pk[2]) if pk[2] else k.latest()
        if kv is None:
            reasons.append("key_version_not_found")
            return False, reasons, None
        if not kv.enabled:
            reasons.append("key_disabled")
        if kv.nbf is not None and kv.nbf > t:
            reasons.append("key_not_yet_valid")
            nxt = kv.nbf
        if kv.exp is not None:
            if kv.exp <= t:
                reasons.append("key_expired")
            elif nxt is None or kv.exp < nxt:
                nxt = kv.exp
        if k.kty not in ("RSA", "RSA-HSM"):
            reasons.append("key_type_unsupported")
        ops = {o.lower() for o in k.key_ops}
        if "wrapkey" not in ops or "unwrapkey" not in ops:
            reasons.append("key_ops_missing")
        return not reasons, reasons, nxt

    def _init_health(self, cl, t):
        ok, reasons, nxt = self.eval_access(cl, t)
        cl.access_ok, cl.access_reasons, cl.access_next = ok, reasons, nxt
        if cl.base_status is None:
            cl.base_status = "Ready" if ok else "Inaccessible"
            cl.access_changed = t - 10 * 365 * 86400
        else:
            cl.access_changed = t

    def refresh(self, cl, t):
        """Brings the cluster's access state and status up to time t."""
        if cl.cmk is not None:
            guard = 0
            while cl.access_next is not None and cl.access_next <= t and guard < 16:
                b = cl.access_next
                ok, reasons, nxt = self.eval_access(cl, b)
                if ok != cl.access_ok:
                    cl.access_ok, cl.access_changed = ok, b
                cl.access_reasons = reasons
                cl.access_next = nxt if nxt is not None and nxt > b else None
                guard += 1
        if cl.sticky_status or cl.op is not None:
            return
        if cl.base_status == "Ready" and not cl.access_ok and t >= cl.access_changed + \
                self.settings["inaccessible_delay_s"]:
            cl.base_status = "Inaccessible"
        elif cl.base_status == "Inaccessible" and cl.access_ok and t >= cl.access_changed + \
                self.settings["recovery_delay_s"]:
            cl.base_status = "Ready"

    def reeval(self, cl, t):
        self.refresh(cl, t)
        ok, reasons, nxt = self.eval_access(cl, t)
        if ok != cl.access_ok:
            cl.access_ok, cl.access_changed = ok, t
        cl.access_reasons, cl.access_next = reasons, nxt
        self.refresh(cl, t)

    def reeval_all(self, t):
        for cl in self.clusters.values():
            if cl.cmk is not None:
                self.reeval(cl, t)

    def cluster_status(self, cl):
        if cl.op is not None and cl.op.status == "InProgress":
            return CLUSTER_OP_STATUS[cl.op.kind][1]
        return cl.base_status

    def cluster_provisioning_state(self, cl):
        if cl.op is not None and cl.op.status == "InProgress":
            return CLUSTER_OP_STATUS[cl.op.kind][0]
        return cl.provisioning_state

    # --- time passes -------------------------------------------------------------

    def tick(self, t):
        """Finishes due long-running operations and applies due key rotations."""
        if self.ops:
            for op in list(self.ops.values()):
                if op.status == "InProgress" and op.due is not None and op.due <= t:
                    self._finish_op(op, op.due)
        if self.settings["auto_rotate"] and self.next_rotation_check is not None and t >= self.next_rotation_check:
            self._rotate_due(t)

    def _policy_due(self, v, k):
        """Next auto-rotation time of a key per its policy, or None."""
        p = k.rotation_policy
        if not p or not k.versions:
            return None
        cur = k.latest()
        due = None
        for a in p.get("lifetimeActions", []):
            if str(a.get("action", {}).get("type", "")).lower() != "rotate":
                continue
            trg = a.get("trigger", {})
            if trg.get("timeAfterCreate"):
                d = cur.created + parse_iso_duration(trg["timeAfterCreate"])
            elif trg.get("timeBeforeExpiry") and cur.exp is not None:
                d = cur.exp - parse_iso_duration(trg["timeBeforeExpiry"])
            else:
                continue
            due = d if due is None else min(due, d)
        return due

    def _schedule_rotation(self, t):
        nxt = None
        for v in self.vaults.values():
            if v.deleted_at is not None:
                continue
            for k in v.keys.values():
                d = self._policy_due(v, k)
                if d is not None and (nxt is None or d < nxt):
                    nxt = d
        self.next_rotation_check = nxt

    def _rotate_due(self, t):
        rotated = False
        for v in self.vaults.values():
            if v.deleted_at is not None:
                continue
            for k in v.keys.values():
                guard = 0
                while guard < 64:
                    d = self._policy_due(v, k)
                    if d is None or d > t:
                        break
                    self.rotate_key(v, k, max(d, k.latest().created + 1), reason="policy")
                    rotated = True
                    guard += 1
        if rotated:
            self.reeval_all(t)
        self._schedule_rotation(t)

    def rotate_key(self, v, k, t, enabled=True, exp=None, nbf=None, tags=None, version=None, reason="control"):
        kv_d = {"enabled": enabled, "created": int(t)}
        if version:
            kv_d["version"] = version
        if exp is None and k.rotation_policy and k.rotation_policy.get("attributes", {}).get("expiryTime"):
            exp = int(t) + parse_iso_duration(k.rotation_policy["attributes"]["expiryTime"])
        kv_d["exp"] = exp
        kv_d["nbf"] = nbf
        if tags is not None:
            kv_d["tags"] = tags
        if not version:
            kv_d["version"] = det_hex32(v.host, k.name, len(k.versions), reason, t, os.urandom(8).hex())
        try:
            return self._add_version(v, k, kv_d, "rotate_key", t, int(t))
        except ScenarioError as e:
            raise ControlError(str(e))

    # --- long-running operations ----------------------------------------------

    def start_op(self, cl, kind, pending, t, outcome=None, error=None, fail_status=None):
        op = Operation()
        op.id = str(uuid.uuid4())
        op.kind, op.cluster_key, op.cluster_id, op.sub = kind, id_key(cl.id), cl.id, cl.sub
        op.region = cl.location.replace(" ", "").lower()
        op.start = t
        op.outcome = outcome or self.settings["lro_outcome"]
        op.due = None if op.outcome == "Never" else t + float(self.settings["lro_delay_s"])
        op.error = error or dict(self.settings["lro_error"])
        op.fail_status = fail_status or self.settings["lro_failure_status"]
        op.pending = pending
        op.status = "InProgress"
        op.end = None
        op.final_ps = self.settings["lro_failed_provisioning_state"]
        op.prev_status = cl.base_status
        cl.op = op
        self.ops[op.id] = op
        if len(self.ops) > 100000:
            for k in list(self.ops)[:10000]:
                if self.ops[k].status != "InProgress":
                    del self.ops[k]
        return op

    def _finish_op(self, op, t):
        cl = self.clusters.get(op.cluster_key)
        op.end = t
        if op.outcome == "Failed":
            op.status = "Failed"
            if cl is not None and cl.op is op:
                cl.op = None
                if op.kind == "create":
                    cl.provisioning_state = "Failed"
                    cl.base_status = "Failed"
                else:
                    cl.provisioning_state = op.final_ps
                self.refresh(cl, t)
            return
        op.status = "Succeeded"
        if cl is None or cl.op is not op:
            return
        cl.op = None
        if op.kind == "delete":
            del self.clusters[op.cluster_key]
            return
        p = op.pending or {}
        if "cmk" in p:
            cl.cmk = p["cmk"]
        if "tags" in p:
            cl.tags = p["tags"]
        if "props" in p:
            cl.props = _deep_merge(cl.props, p["props"])
        cl.provisioning_state = "Succeeded"
        cl.modified = int(t)
        if op.kind == "create":
            cl.base_status = "Ready"
            cl.props["backup"] = {"earliestRestoreTime": iso_utc(t, frac=False)}
            if cl.replica.get("replicationState") == "Provisioning":
                cl.replica["replicationState"] = "Active"
        ok, reasons, nxt = self.eval_access(cl, t)
        if ok:
            # The update revalidated the key: the cluster is reachable right away.
            cl.access_ok, cl.access_reasons, cl.access_next, cl.access_changed = ok, reasons, nxt, t
            if cl.base_status == "Inaccessible" and ("cmk" in p or op.kind == "create"):
                cl.base_status = "Ready"
        else:
            self.reeval(cl, t)

    def operation_json(self, op):
        d = {"id": "/subscriptions/%s/providers/Microsoft.DocumentDB/locations/%s/mongoClusterAzureAsyncOperation/%s"
                   % (op.sub, op.region, op.id),
             "name": op.id, "resourceId": op.cluster_id, "status": op.status, "startTime": iso_utc(op.start)}
        if op.status == "InProgress":
            d["percentComplete"] = 0.0 if op.due is None else round(
                min(99.0, max(0.0, 100.0 * (self.now() - op.start) / max(0.001, op.due - op.start))), 1)
        else:
            d["endTime"] = iso_utc(op.end)
            d["percentComplete"] = 100.0
        if op.status == "Failed":
            d["error"] = dict(op.error)
        return d

    # --- JSON views -----------------------------------------------------------

    def cluster_json(self, cl, api_version, t, with_pending=None):
        self.refresh(cl, t)
        props = dict(cl.props)  # shallow: the JSON encoder only reads the nested values
        if api_version != "2026-06-01":
            props.pop("networkBypassMode", None)
        if with_pending and "props" in with_pending:
            props = _deep_merge(props, with_pending["props"])
        out_props = {"provisioningState": self.cluster_provisioning_state(cl),
                     "clusterStatus": self.cluster_status(cl)}
        out_props.update(props)
        out_props["replica"] = dict(cl.replica)
        cmk = with_pending["cmk"] if with_pending and "cmk" in with_pending else cl.cmk
        if cmk is not None:
            out_props["encryption"] = {"customerManagedKeyEncryption": {
                "keyEncryptionKeyIdentity": {"identityType": "UserAssignedIdentity",
                                             "userAssignedIdentityResourceId": cmk["identity_id"]},
                "keyEncryptionKeyUrl": cmk["key_url"]}}
        d = {"id": cl.id, "name": cl.name, "type": "Microsoft.DocumentDB/mongoClusters", "location": cl.location,
             "tags": dict(with_pending["tags"] if with_pending and "tags" in with_pending else cl.tags),
             "systemData": {"createdBy": "admin@contoso.example", "createdByType": "User",
                            "createdAt": iso_utc(cl.created),
                            "lastModifiedBy": cl.modified_by or "admin@contoso.example",
                            "lastModifiedByType": "Application" if cl.modified_by else "User",
                            "lastModifiedAt": iso_utc(cl.modified)},
             "properties": out_props}
        ident = self.cluster_identity_json(cl)
        if ident is not None:
            d["identity"] = ident
        return d

    @staticmethod
    def cluster_identity_json(cl):
        if not cl.uami and cl.system_identity is None:
            return None
        d = {}
        if cl.system_identity is not None:
            d["type"] = "SystemAssigned,UserAssigned" if cl.uami else "SystemAssigned"
            d.update(cl.system_identity)
        else:
            d["type"] = "UserAssigned"
        if cl.uami:
            d["userAssignedIdentities"] = {r["id"]: {"principalId": r["principalId"], "clientId": r["clientId"]}
                                           for r in cl.uami.values()}
        return d

    def vault_json(self, v, api_version):
        props = {"tenantId": v.tenant_id, "sku": {"family": "A", "name": v.sku},
                 "accessPolicies": copy.deepcopy(v.access_policies) if not v.rbac or v.access_policies else [],
                 "enabledForDeployment": False, "enabledForDiskEncryption": False,
                 "enabledForTemplateDeployment": False, "enableSoftDelete": v.soft_delete,
                 "softDeleteRetentionInDays": v.retention_days, "enableRbacAuthorization": v.rbac,
                 "vaultUri": "https://%s/" % v.host, "provisioningState": "Succeeded",
                 "publicNetworkAccess": v.public_network_access,
                 "networkAcls": copy.deepcopy(v.network_acls), "hsmPoolResourceId": "",
                 "privateEndpointConnections": []}
        if v.purge_protection is not None:
            props["enablePurgeProtection"] = v.purge_protection
        return {"id": v.id, "name": v.name, "type": "Microsoft.KeyVault/vaults", "location": v.location,
                "tags": dict(v.tags),
                "systemData": {"createdBy": "admin@contoso.example", "createdByType": "User",
                               "createdAt": iso_utc(v.created), "lastModifiedBy": "admin@contoso.example",
                               "lastModifiedByType": "User", "lastModifiedAt": iso_utc(v.created)},
                "properties": props}

    def deleted_vault_json(self, v):
        purge = v.deleted_at + v.retention_days * 86400
        return {"id": "/subscriptions/%s/providers/Microsoft.KeyVault/locations/%s/deletedVaults/%s"
                      % (v.sub, v.location, v.name),
                "name": v.name, "type": "Microsoft.KeyVault/deletedVaults",
                "properties": {"vaultId": v.id, "location": v.location, "tags": dict(v.tags),
                               "deletionDate": iso_utc(v.deleted_at, frac=False),
                               "scheduledPurgeDate": iso_utc(purge, frac=False),
                               "purgeProtectionEnabled": bool(v.purge_protection)}}

    def hsm_json(self, v, api_version):
        """ManagedHsm (keyvault resource-manager 2026-04-01 openapi.json): sku at the top level,
        hsmUri, no access policies, enablePurgeProtection always sent (its default is true)."""
        props = {"tenantId": v.tenant_id, "initialAdminObjectIds": [self.principals[0].object_id],
                 "hsmUri": "https://%s/" % v.host, "enableSoftDelete": v.soft_delete,
                 "softDeleteRetentionInDays": v.retention_days, "enablePurgeProtection": bool(v.purge_protection),
                 "statusMessage": "The Managed HSM is provisioned and ready to use.",
                 "provisioningState": "Succeeded", "networkAcls": copy.deepcopy(v.network_acls),
                 "publicNetworkAccess": v.public_network_access, "privateEndpointConnections": [],
                 "regions": [], "securityDomainProperties": {"activationStatus": "Active",
                                                             "activationStatusMessage": "Your HSM has been "
                                                             "activated and can be used for cryptographic "
                                                             "operations."}}
        return {"id": v.id, "name": v.name, "type": "Microsoft.KeyVault/managedHSMs", "location": v.location,
                "sku": {"family": "B", "name": v.sku}, "tags": dict(v.tags),
                "systemData": {"createdBy": "admin@contoso.example", "createdByType": "User",
                               "createdAt": iso_utc(v.created), "lastModifiedBy": "admin@contoso.example",
                               "lastModifiedByType": "User", "lastModifiedAt": iso_utc(v.created)},
                "properties": props}

    def deleted_hsm_json(self, v):
        purge = v.deleted_at + v.retention_days * 86400
        return {"id": "/subscriptions/%s/providers/Microsoft.KeyVault/locations/%s/deletedManagedHSMs/%s"
                      % (v.sub, v.location, v.name),
                "name": v.name, "type": "Microsoft.KeyVault/deletedManagedHSMs",
                "properties": {"mhsmId": v.id, "location": v.location, "tags": dict(v.tags),
                               "deletionDate": iso_utc(v.deleted_at, frac=False),
                               "scheduledPurgeDate": iso_utc(purge, frac=False),
                               "purgeProtectionEnabled": bool(v.purge_protection)}}

    @staticmethod
    def hsm_ra_json(ra):
        """RoleAssignment of the HSM data plane (keyvault data-plane rbac.json)."""
        base = "" if ra.scope == "/" else ra.scope
        return {"id": "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (base, ra.id), "name": ra.id,
                "type": "Microsoft.Authorization/roleAssignments",
                "properties": {"scope": ra.scope, "principalId": ra.principal_id,
                               "roleDefinitionId": "Microsoft.KeyVault/providers/Microsoft.Authorization/"
                                                   "roleDefinitions/%s" % ra.role_id}}

    @staticmethod
    def hsm_rd_json(rd):
        return {"id": "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/%s" % rd.id,
                "name": rd.id, "type": "Microsoft.Authorization/roleDefinitions",
                "properties": {"roleName": rd.name, "description": rd.description,
                               "type": "AKVBuiltInRole" if rd.builtin else "CustomRole",
                               "assignableScopes": list(rd.assignable_scopes),
                               "permissions": [{"actions": list(rd.actions), "notActions": list(rd.not_actions),
                                                "dataActions": list(rd.data_actions),
                                                "notDataActions": list(rd.not_data_actions)}]}}

    def identity_json(self, ident, api_version):
        props = {"tenantId": ident.tenant_id, "principalId": ident.principal_id, "clientId": ident.client_id}
        if api_version >= "2026-05-31":
            props["isolationScope"] = "None"
            props["assignmentRestrictions"] = {"providers": []}
        return {"id": ident.id, "name": ident.name, "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "location": ident.location, "tags": dict(ident.tags), "properties": props}

    def ra_json(self, ra):
        sub = None
        parts = id_key(ra.scope).split("/")
        if len(parts) > 2 and parts[1] == "subscriptions":
            sub = ra.scope.split("/")[2]
        rdid = ("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s" % (sub, ra.role_id)
                if sub else "/providers/Microsoft.Authorization/roleDefinitions/%s" % ra.role_id)
        base = "" if ra.scope == "/" else ra.scope
        return {"id": "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (base, ra.id), "name": ra.id,
                "type": "Microsoft.Authorization/roleAssignments",
                "properties": {"roleDefinitionId": rdid, "principalId": ra.principal_id,
                               "principalType": ra.principal_type, "scope": ra.scope, "condition": None,
                               "conditionVersion": None, "createdOn": iso_utc(ra.created),
                               "updatedOn": iso_utc(ra.created), "createdBy": None, "updatedBy": None,
                               "delegatedManagedIdentityResourceId": None, "description": ra.description}}

    def role_def_json(self, rd, scope):
        base = scope if scope and scope != "/" else ""
        return {"id": "%s/providers/Microsoft.Authorization/roleDefinitions/%s" % (base, rd.id), "name": rd.id,
                "type": "Microsoft.Authorization/roleDefinitions",
                "properties": {"roleName": rd.name, "type": "BuiltInRole" if rd.builtin else "CustomRole",
                               "description": rd.description, "assignableScopes": list(rd.assignable_scopes),
                               "permissions": [{"actions": list(rd.actions), "notActions": list(rd.not_actions),
                                                "dataActions": list(rd.data_actions),
                                                "notDataActions": list(rd.not_data_actions)}],
                               "createdOn": "2021-01-01T00:00:00.0000000Z", "updatedOn": "2024-01-01T00:00:00.0000000Z",
                               "createdBy": None, "updatedBy": None}}

    def key_bundle(self, v, k, kv, api_version, deleted=False):
        level, days = v.recovery_level()
        attrs = {"enabled": kv.enabled}
        if kv.nbf is not None:
            attrs["nbf"] = kv.nbf
        if kv.exp is not None:
            attrs["exp"] = kv.exp
        attrs.update({"created": kv.created, "updated": kv.updated, "recoveryLevel": level})
        if days:
            attrs["recoverableDays"] = days
        attrs["exportable"] = k.exportable
        key = {"kid": "https://%s/keys/%s/%s" % (v.host, k.name, kv.version), "kty": k.kty,
               "key_ops": list(k.key_ops)}
        key.update(kv.material)
        d = {"key": key, "attributes": attrs}
        tags = kv.tags if kv.tags is not None else k.tags
        if tags:
            d["tags"] = dict(tags)
        if k.managed:
            d["managed"] = True
        if deleted:
            d = dict({"recoveryId": "https://%s/deletedkeys/%s" % (v.host, k.name),
                      "deletedDate": k.deleted_at,
                      "scheduledPurgeDate": k.deleted_at + v.retention_days * 86400}, **d)
        return d

    def key_item(self, v, k, kv, versioned):
        level, days = v.recovery_level()
        attrs = {"enabled": kv.enabled}
        if kv.nbf is not None:
            attrs["nbf"] = kv.nbf
        if kv.exp is not None:
            attrs["exp"] = kv.exp
        attrs.update({"created": kv.created, "updated": kv.updated, "recoveryLevel": level})
        if days:
            attrs["recoverableDays"] = days
        attrs["exportable"] = k.exportable
        kid = "https://%s/keys/%s" % (v.host, k.name) + ("/" + kv.version if versioned else "")
        d = {"kid": kid, "attributes": attrs}
        tags = kv.tags if kv.tags is not None else k.tags
        if tags:
            d["tags"] = dict(tags)
        if k.managed:
            d["managed"] = True
        return d

    def rotation_policy_json(self, v, k):
        pid = "https://%s/keys/%s/rotationpolicy" % (v.host, k.name)
        if k.rotation_policy is None:
            return {"id": pid, "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"},
                                                    "action": {"type": "Notify"}}], "attributes": {}}
        p = copy.deepcopy(k.rotation_policy)
        attrs = p.get("attributes", {})
        attrs["created"] = k.policy_created
        attrs["updated"] = k.policy_updated
        return {"id": pid, "lifetimeActions": p.get("lifetimeActions", []), "attributes": attrs}

    # --- state dump ------------------------------------------------------------

    def state_json(self, t):
        subs = []
        for s in self.subs.values():
            subs.append({"id": s.id, "name": s.name, "tenant": s.tenant_id, "state": s.state, "cloud": s.cloud,
                         "resource_groups": sorted(rg.name for rg in s.rgs.values())})
        clusters = []
        for cl in self.clusters.values():
            self.refresh(cl, t)
            clusters.append({"id": cl.id, "name": cl.name, "subscription": cl.sub, "resource_group": cl.rg,
                             "location": cl.location, "provisioningState": self.cluster_provisioning_state(cl),
                             "clusterStatus": self.cluster_status(cl), "base_status": cl.base_status,
                             "cmk": dict(cl.cmk) if cl.cmk else None,
                             "identities": [dict(r) for r in cl.uami.values()],
                             "access_ok": cl.access_ok, "access_reasons": list(cl.access_reasons),
                             "access_changed": cl.access_changed, "tags": dict(cl.tags),
                             "replica": dict(cl.replica), "operation": cl.op.id if cl.op else None})
        vaults = []
        for v in self.vaults.values():
            keys = []
            for deleted, coll in ((False, v.keys), (True, v.deleted_keys)):
                for k in coll.values():
                    keys.append({"name": k.name, "deleted": deleted, "deleted_at": k.deleted_at, "kty": k.kty,
                                 "key_ops": list(k.key_ops), "rotation_policy": k.rotation_policy,
                                 "current": k.latest().version if k.versions else None,
                                 "versions": [{"version": kv.version, "enabled": kv.enabled, "nbf": kv.nbf,
                                               "exp": kv.exp, "created": kv.created, "updated": kv.updated,
                                               "kid": "https://%s/keys/%s/%s" % (v.host, k.name, kv.version)}
                                              for kv in k.versions]})
            vaults.append({"id": v.id, "name": v.name, "hsm": v.hsm, "host": v.host, "uri": v.uri,
                           "tenant": v.tenant_id,
                           "local_role_assignments": [{"id": ra.id, "scope": ra.scope, "role": ra.role_id,
                                                       "role_name": self.hsm_role_def(v, ra.role_id).name,
                                                       "principal_id": ra.principal_id}
                                                      for ra in v.local_ras.values()],
                           "local_role_definitions": [{"id": rd.id, "name": rd.name, "data_actions": rd.data_actions}
                                                      for rd in v.local_roles.values()],
                           "location": v.location, "rbac": v.rbac, "soft_delete": v.soft_delete,
                           "purge_protection": v.purge_protection, "retention_days": v.retention_days,
                           "public_network_access": v.public_network_access,
                           "network_acls": copy.deepcopy(v.network_acls),
                           "access_policies": copy.deepcopy(v.access_policies), "deleted_at": v.deleted_at,
                           "keys": keys})
        return {
            "now": t, "clock_offset": self.clock_offset, "frozen": self.frozen_at is not None,
            "settings": copy.deepcopy(self.settings),
            "tenants": [{"id": x.id, "name": x.name} for x in self.tenants.values()],
            "principals": [{"name": p.name, "type": p.type, "object_id": p.object_id, "client_id": p.client_id,
                            "tenant": p.tenant_id, "identity": p.identity_id, "trusted_service": p.trusted_service,
                            "disabled": p.disabled, "cmkd": p.name == self.cmkd_principal}
                           for p in self.principals],
            "cmkd_principal": self.cmkd_principal,
            "subscriptions": subs,
            "identities": [{"id": i.id, "name": i.name, "principal_id": i.principal_id, "client_id": i.client_id,
                            "tenant": i.tenant_id, "location": i.location, "deleted": i.deleted}
                           for i in self.identities.values()],
            "vaults": vaults,
            "role_assignments": [{"id": ra.id, "scope": ra.scope, "role": ra.role_id,
                                  "role_name": self.role_defs[ra.role_id].name if ra.role_id in self.role_defs
                                  else None, "principal_id": ra.principal_id}
                                 for ra in self.role_assignments.values()],
            "role_definitions": [{"id": rd.id, "name": rd.name, "builtin": rd.builtin,
                                  "data_actions": rd.data_actions} for rd in self.role_defs.values()
                                 if not rd.builtin],
            "groups": {g: sorted(m) for g, m in self.groups.items()},
            "arm_deny": copy.deepcopy(self.arm_deny),
            "clusters": clusters,
            "operations": [self.operation_json(op) for op in list(self.ops.values())[-200:]],
            "faults": [fault_json(f) for f in self.faults],
            "tokens_issued": len(self.tokens),
        }

    # --- control ops -----------------------------------------------------------

    def control(self, body, t):
        if not isinstance(body, dict) or not isinstance(body.get("op"), str):
            raise ControlError("the body must be a JSON object with an 'op' string")
        op = body["op"]
        fn = getattr(self, "op_" + op, None)
        if fn is None:
            raise ControlError("unknown op '%s'; known: %s" % (op, ", ".join(sorted(CONTROL_OPS))))
        try:
            res = fn(body, t)
        except ScenarioError as e:
            raise ControlError(str(e).replace(self.source + ": ", "", 1))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise ControlError("%s: bad arguments: %s" % (op, e))
        return res or {}

    def _c_vault(self, b):
        if "vault" not in b and "hsm" in b:
            return self._vault_ref(b["hsm"], "hsm", hsm=True)
        if "vault" not in b:
            raise ControlError("'vault' (or 'hsm') is required")
        return self._vault_ref(b["vault"], "vault")

    def _c_hsm(self, b):
        v = self._c_vault(b)
        if not v.hsm:
            raise ControlError("'%s' is a key vault, not a Managed HSM" % v.name)
        return v

    def _c_key(self, b, deleted_ok=False):
        v = self._c_vault(b)
        name = b.get("key")
        if not isinstance(name, str):
            raise ControlError("'key' is required")
        k = v.keys.get(name.lower())
        if k is None and deleted_ok:
            k = v.deleted_keys.get(name.lower())
        if k is None:
            raise ControlError("vault '%s' has no key '%s'" % (v.name, name))
        return v, k

    def _c_versions(self, k, b):
        ver = b.get("version", "latest")
        if ver in (None, "latest", "current"):
            return [k.latest()]
        if ver == "all":
            return list(k.versions)
        if isinstance(ver, int) and not isinstance(ver, bool):
            try:
                return [k.versions[ver]]
            except IndexError:
                raise ControlError("key '%s' has %d versions" % (k.name, len(k.versions)))
        kv = k.find_version(str(ver))
        if kv is None:
            raise ControlError("key '%s' has no version '%s'" % (k.name, ver))
        return [kv]

    def _c_time(self, v, t, name):
        try:
            return parse_time(v, t)
        except TimeParseError as e:
            raise ControlError("%s: %s" % (name, e))

    def _changed(self, t):
        self.reeval_all(t)
        self._schedule_rotation(t)

    # keys
    def op_rotate_key(self, b, t):
        v, k = self._c_key(b)
        kv = self.rotate_key(v, k, t, enabled=b.get("enabled", True), exp=self._c_time(b.get("exp"), t, "exp"),
                             nbf=self._c_time(b.get("nbf"), t, "nbf"), tags=b.get("tags"), version=b.get("version"))
        self._changed(t)
        return {"kid": "https://%s/keys/%s/%s" % (v.host, k.name, kv.version), "version": kv.version}

    def op_create_key(self, b, t):
        v = self._c_vault(b)
        kd = {kk: vv for kk, vv in b.items() if kk not in ("op", "vault")}
        kd["name"] = b.get("key") or b.get("name")
        if "versions" not in kd:
            kd["versions"] = [{"created": int(t)}]
        k = self._add_key(v, kd, "create_key", t)
        self._changed(t)
        return {"kid": "https://%s/keys/%s/%s" % (v.host, k.name, k.latest().version)}

    def _set_attrs(self, b, t, **attrs):
        v, k = self._c_key(b)
        vers = self._c_versions(k, b)
        for kv in vers:
            for a, val in attrs.items():
                setattr(kv, a, val)
            kv.updated = int(t)
        self._changed(t)
        return {"versions": [kv.version for kv in vers]}

    def op_disable_key(self, b, t):
        return self._set_attrs(b, t, enabled=False)

    def op_enable_key(self, b, t):
        return self._set_attrs(b, t, enabled=True)

    def op_set_key_expiry(self, b, t):
        return self._set_attrs(b, t, exp=self._c_time(b.get("exp"), t, "exp"))

    def op_set_key_nbf(self, b, t):
        return self._set_attrs(b, t, nbf=self._c_time(b.get("nbf"), t, "nbf"))

    def op_set_key_attributes(self, b, t):
        attrs = {}
        if "tags" in b and not isinstance(b["tags"], (dict, type(None))):
            raise ControlError("set_key_attributes: 'tags' must be an object or null")
        if "key_ops" in b and (not isinstance(b["key_ops"], list) or not all(isinstance(o, str)
                                                                              for o in b["key_ops"])):
            raise ControlError("set_key_attributes: 'key_ops' must be a list of names")
        if "kty" in b and b["kty"] not in ("RSA", "RSA-HSM", "EC", "EC-HSM", "oct", "oct-HSM"):
            raise ControlError("set_key_attributes: 'kty' is not a key type")
        if "kty" in b and self._c_key(b)[0].hsm and b["kty"] not in HSM_KEY_TYPES:
            raise ControlError("set_key_attributes: a Managed HSM holds only %s keys" % ", ".join(HSM_KEY_TYPES))
        if "enabled" in b:
            attrs["enabled"] = bool(b["enabled"])
        if "exp" in b:
            attrs["exp"] = self._c_time(b["exp"], t, "exp")
        if "nbf" in b:
            attrs["nbf"] = self._c_time(b["nbf"], t, "nbf")
        if "tags" in b:
            attrs["tags"] = b["tags"]
        res = self._set_attrs(b, t, **attrs)
        v, k = self._c_key(b)
        if "key_ops" in b:
            k.key_ops = list(b["key_ops"])
        if "kty" in b:
            k.kty = b["kty"]
        self._changed(t)
        return res

    def op_delete_key(self, b, t):
        v, k = self._c_key(b)
        del v.keys[k.name.lower()]
        k.deleted_at = int(t)
        if v.soft_delete:
            v.deleted_keys[k.name.lower()] = k
        self._changed(t)
        return {"soft_deleted": v.soft_delete}

    def op_recover_key(self, b, t):
        v = self._c_vault(b)
        k = v.deleted_keys.pop(str(b.get("key", "")).lower(), None)
        if k is None:
            raise ControlError("vault '%s' has no deleted key '%s'" % (v.name, b.get("key")))
        k.deleted_at = None
        v.keys[k.name.lower()] = k
        self._changed(t)
        return {}

    def op_purge_key(self, b, t):
        v = self._c_vault(b)
        name = str(b.get("key", "")).lower()
        if name in v.keys:
            raise ControlError("key '%s' is not deleted; delete it first" % b.get("key"))
        if v.deleted_keys.pop(name, None) is None:
            raise ControlError("vault '%s' has no deleted key '%s'" % (v.name, b.get("key")))
        if v.purge_protection:
            pass  # the twin lets tests purge anyway; Azure would refuse until the retention ends
        self._changed(t)
        return {}

    def op_delete_version(self, b, t):
        v, k = self._c_key(b)
        if b.get("version") in (None, "all"):
            raise ControlError("'version' is required (Key Vault itself cannot delete single versions)")
        for kv in self._c_versions(k, b):
            k.versions.remove(kv)
        if not k.versions:
            del v.keys[k.name.lower()]
        self._changed(t)
        return {}

    def op_set_rotation_policy(self, b, t):
        v, k = self._c_key(b)
        p = b.get("policy")
        if p is not None:
            if not isinstance(p, dict):
                raise ControlError("'policy' must be an object or null")
            self._check_policy(p, "policy")
        k.rotation_policy = p
        k.policy_updated = int(t)
        self._changed(t)
        return {}

    # identities
    def op_delete_identity(self, b, t):
        ident = self._identity_ref(b.get("identity"), "identity")
        ident.deleted = True
        self._changed(t)
        return {"id": ident.id}

    def op_recreate_identity(self, b, t):
        ident = self._identity_ref(b.get("identity"), "identity")
        for k in ("principal_id", "client_id"):
            if b.get(k) is not None and not is_uuid(b[k]):
                raise ControlError("recreate_identity: '%s' must be a GUID" % k)
        ident.deleted = False
        if not b.get("same_principal"):
            ident.principal_id = (b.get("principal_id") or str(uuid.uuid4())).lower()
            ident.client_id = (b.get("client_id") or str(uuid.uuid4())).lower()
        for p in self.principals:  # a VM using this UAMI now gets tokens with the new ids
            if p.identity_id and id_key(p.identity_id) == id_key(ident.id):
                p.object_id, p.client_id = ident.principal_id, ident.client_id
        self._changed(t)
        return {"id": ident.id, "principal_id": ident.principal_id, "client_id": ident.client_id}

    def op_create_identity(self, b, t):
        d = {kk: vv for kk, vv in b.items() if kk != "op"}
        ident = self._add_identity(d, "create_identity")
        self._changed(t)
        return {"id": ident.id, "principal_id": ident.principal_id, "client_id": ident.client_id}

    # roles and access policies
    def op_add_role_assignment(self, b, t):
        d = {kk: vv for kk, vv in b.items() if kk != "op"}
        d.setdefault("created", int(t))
        if "id" not in d:
            d["id"] = str(uuid.uuid4())
        ra = self._add_role_assignment(d, "add_role_assignment", t)
        self._changed(t)
        return {"id": ra.id, "scope": ra.scope}

    def op_remove_role_assignment(self, b, t):
        if b.get("id"):
            victims = [self.role_assignments.get(str(b["id"]).lower())]
            if victims[0] is None:
                raise ControlError("no role assignment '%s'" % b["id"])
        else:
            oid = self._principal_id_ref(b, "remove_role_assignment")
            victims = []
            role = b.get("role")
            rid = None
            if role:
                rid = role.lower() if role.lower() in self.role_defs else self.role_names.get(role.lower())
            scope = self._scope_ref(b, "remove_role_assignment") if any(
                b.get(x) for x in ("scope", "vault", "subscription", "resource_group")) else None
            for ra in self.role_assignments.values():
                if ra.principal_id == oid and (rid is None or ra.role_id == rid) and (
                        scope is None or id_key(ra.scope) == id_key(scope)):
                    victims.append(ra)
            if not victims:
                raise ControlError("no matching role assignment")
        for ra in victims:
            del self.role_assignments[ra.id]
            self.ra_by_principal[ra.principal_id].remove(ra)
        self._changed(t)
        return {"removed": [ra.id for ra in victims]}

    def op_set_access_policy(self, b, t):
        v = self._c_vault(b)
        ap = self._parse_access_policy({kk: vv for kk, vv in b.items() if kk not in ("op", "vault")},
                                       "set_access_policy", v)
        v.access_policies = [x for x in v.access_policies
                             if not (x["objectId"] == ap["objectId"] and x["tenantId"] == ap["tenantId"])]
        v.access_policies.append(ap)
        self._changed(t)
        return {}

    def op_remove_access_policy(self, b, t):
        v = self._c_vault(b)
        oid = self._principal_id_ref(b, "remove_access_policy")
        before = len(v.access_policies)
        perms = b.get("keys")
        if perms:
            # remove only these key permissions
            for x in v.access_policies:
                if x["objectId"] == oid:
                    x["permissions"]["keys"] = [p for p in x["permissions"].get("keys", [])
                                                if p.lower() not in {q.lower() for q in perms}]
        else:
            v.access_policies = [x for x in v.access_policies if x["objectId"] != oid]
            if len(v.access_policies) == before:
                raise ControlError("vault '%s' has no access policy for %s" % (v.name, oid))
        self._changed(t)
        return {}

    # Managed HSM local RBAC
    def op_add_hsm_role_assignment(self, b, t):
        v = self._c_hsm(b)
        d = {kk: vv for kk, vv in b.items() if kk not in ("op", "hsm", "vault")}
        d.setdefault("created", int(t))
        if "id" not in d:
            d["id"] = str(uuid.uuid4())
        ra = self._add_hsm_ra(v, d, "add_hsm_role_assignment", t)
        self._changed(t)
        return {"id": ra.id, "scope": ra.scope, "role": ra.role_id}

    def op_remove_hsm_role_assignment(self, b, t):
        v = self._c_hsm(b)
        if b.get("id"):
            ra = v.local_ras.get(str(b["id"]).lower())
            if ra is None:
                raise ControlError("HSM '%s' has no role assignment '%s'" % (v.name, b["id"]))
            victims = [ra]
        else:
            oid = self._principal_id_ref(b, "remove_hsm_role_assignment")
            rid = self._hsm_role_ref(v, b["role"], "role") if b.get("role") is not None else None
            scope = None
            if b.get("scope") is not None:
                scope = hsm_scope_norm(b["scope"])
                if scope is None:
                    raise ControlError("'%s' is not a Managed HSM scope" % (b["scope"],))
            victims = [ra for ra in v.local_ras.values() if ra.principal_id == oid and
                       (rid is None or ra.role_id == rid) and (scope is None or ra.scope == scope)]
            if not victims:
                raise ControlError("no matching role assignment in HSM '%s'" % v.name)
        for ra in victims:
            del v.local_ras[ra.id]
        self._changed(t)
        return {"removed": [ra.id for ra in victims]}

    def op_add_hsm_role_definition(self, b, t):
        v = self._c_hsm(b)
        rd = self._add_hsm_role_def(v, {kk: vv for kk, vv in b.items() if kk not in ("op", "hsm", "vault")},
                                    "add_hsm_role_definition")
        self._changed(t)
        return {"id": rd.id}

    # vaults
    def op_set_network_rules(self, b, t):
        v = self._c_vault(b)
        acls = dict(v.network_acls)
        for src, dst in (("default_action", "defaultAction"), ("defaultAction", "defaultAction"),
                         ("bypass", "bypass"), ("ip_rules", "ipRules"), ("ipRules", "ipRules")):
            if src in b:
                acls[dst] = b[src]
        acls["ipRules"] = [r if isinstance(r, dict) else {"value": r} for r in acls.get("ipRules", [])]
        self._check_acls(acls, "set_network_rules")
        v.network_acls = acls
        if "public_network_access" in b:
            v.public_network_access = b["public_network_access"]
        self._changed(t)
        return {"network_acls": acls, "public_network_access": v.public_network_access}

    def op_set_vault(self, b, t):
        v = self._c_vault(b)
        types = {"rbac": bool, "soft_delete": bool, "purge_protection": (bool, type(None)),
                 "public_network_access": str, "location": str, "retention_days": int, "trusted_loopback": bool,
                 "tags": dict, "sku": str}
        for k, ty in types.items():
            if k in b and (not isinstance(b[k], ty) or (ty is int and isinstance(b[k], bool))):
                raise ControlError("set_vault: '%s' has the wrong type" % k)
        if "retention_days" in b and not 7 <= b["retention_days"] <= 90:
            raise ControlError("set_vault: retention_days must be 7..90")
        if v.hsm and b.get("rbac") is False:
            raise ControlError("set_vault: a Managed HSM authorizes with its local RBAC only")
        for k in types:
            if k in b:
                setattr(v, k, b[k])
        if "tenant" in b:
            v.tenant_id = self._tenant_ref(b["tenant"], "tenant")
        self._changed(t)
        return {}

    def op_delete_vault(self, b, t):
        v = self._c_vault(b)
        v.deleted_at = int(t)
        self._changed(t)
        return {}

    def op_recover_vault(self, b, t):
        v = self._c_vault(b)
        v.deleted_at = None
        self._changed(t)
        return {}

    def op_purge_vault(self, b, t):
        v = self._c_vault(b)
        del self.vaults[v.host]
        del self.vaults_by_id[id_key(v.id)]
        self._changed(t)
        return {}

    # clusters
    def op_set_cluster(self, b, t):
        cl = self._cluster_ref(b.get("cluster"), "cluster")
        for k, ty in (("status", str), ("provisioning_state", str), ("tags", dict), ("properties", dict),
                      ("add_identities", list), ("remove_identities", list), ("cmk", (dict, type(None)))):
            if k in b and not isinstance(b[k], ty):
                raise ControlError("set_cluster: '%s' has the wrong type" % k)
        if isinstance(b.get("properties"), dict) and any(k in b["properties"] for k in (
                "provisioningState", "clusterStatus", "encryption", "replica")):
            raise ControlError("set_cluster: set status, provisioning_state and cmk with their own keys")
        if "status" in b:
            cl.base_status = b["status"]
        if "sticky_status" in b:
            cl.sticky_status = bool(b["sticky_status"])
        if "provisioning_state" in b:
            cl.provisioning_state = b["provisioning_state"]
        if "tags" in b:
            cl.tags = dict(b["tags"])
        if "cmk" in b:
            if b["cmk"] is None:
                cl.cmk = None
            else:
                ident = self._identity_ref(b["cmk"].get("identity"), "cmk.identity")
                self._attach_identity(cl, ident)
                cl.cmk = {"identity_id": ident.id, "key_url": self._key_url_ref(b["cmk"], "cmk")}
        for ref in b.get("add_identities", []):
            self._attach_identity(cl, self._identity_ref(ref, "add_identities"))
        for ref in b.get("remove_identities", []):
            cl.uami.pop(id_key(self._identity_ref(ref, "remove_identities").id), None)
        if "properties" in b:
            cl.props = _deep_merge(cl.props, b["properties"])
        self._changed(t)
        return {"id": cl.id}

    def op_add_cluster(self, b, t):
        d = {kk: vv for kk, vv in b.items() if kk != "op"}
        cl = self._add_cluster(d, "add_cluster", t)
        self._init_health(cl, t)
        return {"id": cl.id}

    def op_remove_cluster(self, b, t):
        cl = self._cluster_ref(b.get("cluster"), "cluster")
        del self.clusters[id_key(cl.id)]
        return {}

    def op_finish_operations(self, b, t):
        """Ends every running LRO now (outcome as planned, 'Never' ones too when force)."""
        n = 0
        for op in list(self.ops.values()):
            if op.status == "InProgress" and (op.due is not None or b.get("force")):
                if op.due is None:
                    op.outcome = b.get("outcome", "Succeeded")
                self._finish_op(op, t)
                n += 1
        return {"finished": n}

    # principals and tokens
    def op_revoke_tokens(self, b, t):
        n = 0
        for rec in self.tokens.values():
            if b.get("principal") in (None, rec.principal) and not rec.revoked:
                rec.revoked = True
                n += 1
        return {"revoked": n}

    def op_set_principal(self, b, t):
        p = self.principals_by_name.get(b.get("principal"))
        if p is None:
            raise ControlError("no principal '%s'" % b.get("principal"))
        if "client_secret" in b:
            p.client_secret = b["client_secret"]
        if "disabled" in b:
            p.disabled = bool(b["disabled"])
        if "trusted_service" in b:
            p.trusted_service = bool(b["trusted_service"])
        if "federated" in b:
            p.federated = b["federated"]
        return {}

    def op_deny_arm(self, b, t):
        d = self._parse_deny({kk: vv for kk, vv in b.items() if kk != "op"}, "deny_arm")
        self.arm_deny.append(d)
        return {}

    def op_allow_arm(self, b, t):
        oid = self._principal_id_ref(b, "allow_arm")
        before = len(self.arm_deny)
        self.arm_deny = [d for d in self.arm_deny if d["principal_id"] != oid]
        return {"removed": before - len(self.arm_deny)}

    # clock
    def op_set_clock_offset(self, b, t):
        s = b.get("seconds", b.get("offset"))
        if not isinstance(s, (int, float)) or isinstance(s, bool):
            raise ControlError("'seconds' (a number) is required")
        self.clock_offset = float(s)
        self._after_clock_jump(t)
        return {"now": self.now()}

    def op_advance_clock(self, b, t):
        s = b.get("seconds")
        if not isinstance(s, (int, float)) or isinstance(s, bool) or s < 0:
            raise ControlError("'seconds' (a non-negative number) is required")
        self.clock_offset += float(s)
        self._after_clock_jump(t)
        return {"now": self.now()}

    def op_freeze_clock(self, b, t):
        frozen = b.get("frozen", True)
        if frozen and self.frozen_at is None:
            self.frozen_at = time.time()
        elif not frozen and self.frozen_at is not None:
            # keep twin time continuous across the thaw
            self.clock_offset += self.frozen_at - time.time()
            self.frozen_at = None
        return {"now": self.now(), "frozen": self.frozen_at is not None}

    def _after_clock_jump(self, t_old):
        t = self.now()
        if t >= t_old:
            self.tick(t)
            for cl in self.clusters.values():
                self.refresh(cl, t)
        else:
            self.reeval_all(t)
        self._schedule_rotation(t)

    # faults, throttle, settings
    def op_set_faults(self, b, t):
        fl = b.get("faults", [])
        if not isinstance(fl, list):
            raise ControlError("'faults' must be a list")
        try:
            self.faults = [parse_fault(f, "faults[%d]" % i) for i, f in enumerate(fl)]
        except ScenarioError as e:
            raise ControlError(str(e))
        return {"faults": len(self.faults)}

    def op_add_fault(self, b, t):
        try:
            f = parse_fault(b.get("fault", {kk: vv for kk, vv in b.items() if kk != "op"}), "fault")
        except ScenarioError as e:
            raise ControlError(str(e))
        self.faults.append(f)
        return {"faults": len(self.faults)}

    def op_clear_faults(self, b, t):
        n = len(self.faults)
        self.faults = []
        return {"cleared": n}

    def op_set_throttle(self, b, t):
        th = self.settings["throttle"]
        for k in ("reads", "writes", "deletes"):
            if k in b:
                x = b[k]
                if isinstance(x, list) and len(x) == 2:
                    x = {"capacity": x[0], "refill": x[1]}
                if not isinstance(x, dict) or not isinstance(x.get("capacity"), (int, float)) or not isinstance(
                        x.get("refill"), (int, float)) or x["capacity"] < 1 or x["refill"] < 0:
                    raise ControlError("%s: must be {\"capacity\": >=1, \"refill\": >=0}" % k)
                th[k] = {"capacity": x["capacity"], "refill": x["refill"]}
        if "enabled" in b:
            th["enabled"] = bool(b["enabled"])
        if "global_factor" in b:
            th["global_factor"] = b["global_factor"]
        self.buckets.clear()
        return {"throttle": copy.deepcopy(th)}

    def op_reset_throttle(self, b, t):
        self.buckets.clear()
        return {}

    def op_set_settings(self, b, t):
        s = b.get("settings", {kk: vv for kk, vv in b.items() if kk != "op"})
        for k in s:
            if k not in DEFAULT_SETTINGS or k in ("seed", "log_max"):
                raise ControlError("setting '%s' cannot be changed at run time" % k)
        old = copy.deepcopy(self.settings)
        self.settings = _deep_merge(self.settings, s)
        try:
            self._check_settings("settings")
        except ScenarioError as e:
            self.settings = old
            raise ControlError(str(e).replace(self.source + ": ", "", 1))
        if "throttle" in s:
            self.buckets.clear()
        return {"settings": copy.deepcopy(self.settings)}


CONTROL_OPS = sorted(n[3:] for n in dir(World) if n.startswith("op_"))
