# Shared constants and small helpers of the twin: clouds, api-versions, built-in roles,
# time parsing, ids, JSON and glob helpers. Pure functions only; no state, no I/O.

import base64
import calendar
import datetime
import fnmatch
import hashlib
import json
import re
import uuid

# --- clouds -------------------------------------------------------------------------

# name -> endpoints. Host names are what clients send in the Host header.
CLOUDS = {
    "AzurePublicCloud": {
        "arm_host": "management.azure.com",
        "arm_audiences": ["https://management.azure.com", "https://management.core.windows.net"],
        "login_hosts": ["login.microsoftonline.com", "login.windows.net"],
        "vault_suffix": "vault.azure.net",
        "vault_audience": "https://vault.azure.net",
        "hsm_suffix": "managedhsm.azure.net",
        "hsm_audience": "https://managedhsm.azure.net",
    },
    "AzureChinaCloud": {
        "arm_host": "management.chinacloudapi.cn",
        "arm_audiences": ["https://management.chinacloudapi.cn", "https://management.core.chinacloudapi.cn"],
        "login_hosts": ["login.chinacloudapi.cn"],
        "vault_suffix": "vault.azure.cn",
        "vault_audience": "https://vault.azure.cn",
        "hsm_suffix": "managedhsm.azure.cn",
        "hsm_audience": "https://managedhsm.azure.cn",
    },
    "AzureUSGovernment": {
        "arm_host": "management.usgovcloudapi.net",
        "arm_audiences": ["https://management.usgovcloudapi.net", "https://management.core.usgovcloudapi.net"],
        "login_hosts": ["login.microsoftonline.us"],
        "vault_suffix": "vault.usgovcloudapi.net",
        "vault_audience": "https://vault.usgovcloudapi.net",
        "hsm_suffix": "managedhsm.usgovcloudapi.net",
        "hsm_audience": "https://managedhsm.usgovcloudapi.net",
    },
}

IMDS_HOST = "169.254.169.254"


def classify_host(host):
    """Host header (lowercase, no port) -> (service, cloud, extra) or (None, None, None).
    service: arm | entra | kv | hsm. extra: vault name for kv/hsm."""
    for cname, c in CLOUDS.items():
        if host == c["arm_host"]:
            return "arm", cname, None
        if host in c["login_hosts"]:
            return "entra", cname, None
        for svc, suffix in (("kv", c["vault_suffix"]), ("hsm", c["hsm_suffix"])):
            if host.endswith("." + suffix):
                name = host[: -len(suffix) - 1]
                if name and "." not in name:
                    return svc, cname, name
    return None, None, None


def audience_kind(resource):
    """A token resource/audience string -> (kind, cloud) with kind arm|kv|hsm, or (None, None)."""
    r = (resource or "").strip()
    if r.endswith("/.default"):
        r = r[: -len("/.default")]
    r = r.rstrip("/").lower()
    for cname, c in CLOUDS.items():
        if r in c["arm_audiences"]:
            return "arm", cname
        if r == c["vault_audience"]:
            return "kv", cname
        if r == c["hsm_audience"]:
            return "hsm", cname
    return None, None


# --- api-versions -------------------------------------------------------------------

API_VERSIONS = {
    "mongoClusters": ["2024-07-01", "2025-09-01", "2026-06-01"],
    "vaults": ["2019-09-01", "2021-10-01", "2022-07-01", "2023-02-01", "2023-07-01", "2024-11-01",
               "2025-05-01", "2026-02-01", "2026-04-01"],
    "managedHSMs": ["2021-10-01", "2022-07-01", "2023-02-01", "2023-07-01", "2024-11-01", "2025-05-01",
                    "2026-02-01", "2026-04-01"],
    "userAssignedIdentities": ["2018-11-30", "2023-01-31", "2024-11-30", "2026-04-30", "2026-05-31"],
    "roleAssignments": ["2015-07-01", "2018-01-01-preview", "2020-04-01-preview", "2022-04-01"],
    "roleDefinitions": ["2015-07-01", "2018-01-01-preview", "2022-04-01"],
    "subscriptions": ["2016-06-01", "2019-11-01", "2020-01-01", "2021-01-01", "2022-12-01"],
    "keyvault": ["7.4", "7.5", "7.6", "2025-07-01"],
    "imds": ["2018-02-01", "2019-08-01"],
}

# --- roles --------------------------------------------------------------------------

# Built-in role definitions the twin knows (GUID -> definition). Data actions as
# published for the built-in roles.
BUILTIN_ROLES = {
    "e147488a-f6f5-4113-8e2d-b22465e65bf6": {
        "name": "Key Vault Crypto Service Encryption User",
        "description": "Read metadata of keys and perform wrap/unwrap operations.",
        "actions": ["Microsoft.EventGrid/eventSubscriptions/write", "Microsoft.EventGrid/eventSubscriptions/read",
                    "Microsoft.EventGrid/eventSubscriptions/delete"],
        "data_actions": ["Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action",
                         "Microsoft.KeyVault/vaults/keys/unwrap/action"],
    },
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": {
        "name": "Key Vault Crypto Officer",
        "description": "Perform any action on the keys of a key vault, except manage permissions.",
        "actions": ["Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
                    "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
                    "Microsoft.Support/*", "Microsoft.KeyVault/checkNameAvailability/read",
                    "Microsoft.KeyVault/deletedVaults/read", "Microsoft.KeyVault/locations/*/read",
                    "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read"],
        "data_actions": ["Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"],
    },
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": {
        "name": "Key Vault Administrator",
        "description": "Perform all data plane operations on a key vault and all objects in it.",
        "actions": ["Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
                    "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
                    "Microsoft.Support/*", "Microsoft.KeyVault/checkNameAvailability/read",
                    "Microsoft.KeyVault/deletedVaults/read", "Microsoft.KeyVault/locations/*/read",
                    "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read"],
        "data_actions": ["Microsoft.KeyVault/vaults/*"],
    },
    "12338af0-0e69-4776-bea7-57ae8d297424": {
        "name": "Key Vault Crypto User",
        "description": "Perform cryptographic operations using keys.",
        "actions": [],
        "data_actions": ["Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/update/action",
                         "Microsoft.KeyVault/vaults/keys/backup/action", "Microsoft.KeyVault/vaults/keys/encrypt/action",
                         "Microsoft.KeyVault/vaults/keys/decrypt/action", "Microsoft.KeyVault/vaults/keys/wrap/action",
                         "Microsoft.KeyVault/vaults/keys/unwrap/action", "Microsoft.KeyVault/vaults/keys/sign/action",
                         "Microsoft.KeyVault/vaults/keys/verify/action"],
    },
    "21090545-7ca7-4776-b22c-e363652d74d2": {
        "name": "Key Vault Reader",
        "description": "Read metadata of key vaults and its certificates, keys, and secrets.",
        "actions": ["Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
                    "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
                    "Microsoft.Support/*", "Microsoft.KeyVault/checkNameAvailability/read",
                    "Microsoft.KeyVault/deletedVaults/read", "Microsoft.KeyVault/locations/*/read",
                    "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read"],
        "data_actions": ["Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
    },
    "f25e0fa2-a7c8-4377-a976-54943a77a395": {
        "name": "Key Vault Contributor",
        "description": "Manage key vaults, but does not allow access to them.",
        "actions": ["Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
                    "Microsoft.KeyVault/*", "Microsoft.Resources/deployments/*",
                    "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*"],
        "data_actions": [],
    },
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": {
        "name": "Reader", "description": "View all resources, but does not allow you to make any changes.",
        "actions": ["*/read"], "data_actions": [],
    },
    "b24988ac-6180-42a0-ab88-20f7382dd24c": {
        "name": "Contributor", "description": "Grants full access to manage all resources, but does not allow "
        "you to assign roles in Azure RBAC.",
        "actions": ["*"], "not_actions": ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                                          "Microsoft.Authorization/elevateAccess/Action"],
        "data_actions": [],
    },
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": {
        "name": "Owner", "description": "Grants full access to manage all resources, including the ability to "
        "assign roles in Azure RBAC.",
        "actions": ["*"], "data_actions": [],
    },
    "f1a07417-d97a-45cb-824c-7a7467783830": {
        "name": "Managed Identity Operator", "description": "Read and Assign User Assigned Identity",
        "actions": ["Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
                    "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
                    "Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
                    "Microsoft.Resources/subscriptions/resourceGroups/read",
                    "Microsoft.Resources/deployments/*", "Microsoft.Support/*"],
        "data_actions": [],
    },
}

ROLE_NAME_TO_ID = {v["name"].lower(): k for k, v in BUILTIN_ROLES.items()}

DATA_KEY_READ = "Microsoft.KeyVault/vaults/keys/read"
DATA_KEY_WRAP = "Microsoft.KeyVault/vaults/keys/wrap/action"
DATA_KEY_UNWRAP = "Microsoft.KeyVault/vaults/keys/unwrap/action"
DATA_ROTATION_READ = "Microsoft.KeyVault/vaults/keyrotationpolicies/read"

# --- Managed HSM local RBAC -----------------------------------------------------------

# Data actions of the HSM data plane (keyvault data-plane rbac.json, DataAction enum).
HSM = "Microsoft.KeyVault/managedHsm/"
HSM_KEY_READ = HSM + "keys/read/action"
HSM_KEY_WRAP = HSM + "keys/wrap/action"
HSM_KEY_UNWRAP = HSM + "keys/unwrap/action"
HSM_DELETED_KEY_READ = HSM + "keys/deletedKeys/read/action"
HSM_RA_READ = HSM + "roleAssignments/read/action"
HSM_RD_READ = HSM + "roleDefinitions/read/action"

# Local built-in roles (MicrosoftDocs/azure-security-docs, articles/key-vault/managed-hsm/
# built-in-roles.md, "Permitted operations"; the prefix is written out here). GUID -> role.
HSM_BUILTIN_ROLES = {
    "a290e904-7015-4bba-90c8-60543313cdb4": {
        "name": "Managed HSM Administrator",
        "description": "Grants permissions to perform all operations related to the security domain, full backup "
                       "and restore, and role management. Not permitted to perform any key management operations.",
        "data_actions": [HSM + a for a in (
            "securitydomain/download/action", "securitydomain/upload/action", "securitydomain/upload/read",
            "securitydomain/transferkey/read", "roleAssignments/read/action", "roleAssignments/write/action",
            "roleAssignments/delete/action", "roleDefinitions/read/action", "roleDefinitions/write/action",
            "roleDefinitions/delete/action", "backup/start/action", "backup/status/action", "restore/start/action",
            "restore/status/action")],
    },
    "515eb02d-2335-4d2d-92f2-b1cbdf9c3778": {
        "name": "Managed HSM Crypto Officer",
        "description": "Grants permissions to perform all role management, purge or recover deleted keys, and "
                       "export keys. Not permitted to perform any other key management operations.",
        "data_actions": [HSM + a for a in (
            "keys/deletedKeys/read/action", "keys/deletedKeys/recover/action", "keys/deletedKeys/delete",
            "roleAssignments/read/action", "roleAssignments/write/action", "roleAssignments/delete/action",
            "roleDefinitions/read/action", "roleDefinitions/write/action", "roleDefinitions/delete/action")],
    },
    "21dbd100-6940-42c2-9190-5d6cb909625b": {
        "name": "Managed HSM Crypto User",
        "description": "Grants permissions to perform all key management operations except purge or recover "
                       "deleted keys and export keys.",
        "data_actions": [HSM + a for a in (
            "keys/read/action", "keys/write/action", "keys/rotate/action", "keys/create", "keys/delete",
            "keys/backup/action", "keys/restore/action", "keys/release/action", "keys/import/action",
            "keys/encrypt/action", "keys/decrypt/action", "keys/wrap/action", "keys/unwrap/action",
            "keys/sign/action", "keys/verify/action", "roleAssignments/read/action", "roleDefinitions/read/action")],
    },
    "4bd23610-cdcf-4971-bdee-bdc562cc28e4": {
        "name": "Managed HSM Policy Administrator",
        "description": "Grants permissions to create and delete role assignments.",
        "data_actions": [HSM + a for a in (
            "roleAssignments/read/action", "roleAssignments/write/action", "roleAssignments/delete/action",
            "roleDefinitions/read/action", "roleDefinitions/write/action", "roleDefinitions/delete/action")],
    },
    "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3": {
        "name": "Managed HSM Crypto Auditor",
        "description": "Grants read permissions to read (but not use) key attributes.",
        "data_actions": [HSM + a for a in (
            "keys/read/action", "keys/deletedKeys/delete", "roleAssignments/read/action",
            "roleDefinitions/read/action")],
    },
    "33413926-3206-4cdd-b39a-83574fe37a17": {
        "name": "Managed HSM Crypto Service Encryption User",
        "description": "Grants permissions to use a key for service encryption.",
        "data_actions": [HSM + a for a in ("keys/read/action", "keys/wrap/action", "keys/unwrap/action")],
    },
    "21dbd100-6940-42c2-9190-5d6cb909625c": {
        "name": "Managed HSM Crypto Service Release User",
        "description": "Grants permissions to release a key to a trusted execution environment.",
        "data_actions": [HSM + "keys/release/action"],
    },
    "7b127d3c-77bd-4e3e-bbe0-dbb8971fa7f8": {
        "name": "Managed HSM Backup",
        "description": "Grants permissions to perform single-key or whole-HSM backup.",
        "data_actions": [HSM + a for a in ("keys/backup/action", "backup/start/action", "backup/status/action")],
    },
    "6efe6056-5259-49d2-8b3d-d3d73544b20b": {
        "name": "Managed HSM Restore",
        "description": "Grants permissions to perform single-key or whole-HSM restore.",
        "data_actions": [HSM + a for a in ("keys/restore/action", "restore/start/action", "restore/status/action")],
    },
}

HSM_ROLE_NAME_TO_ID = {v["name"].lower(): k for k, v in HSM_BUILTIN_ROLES.items()}
HSM_KEY_TYPES = ("RSA-HSM", "EC-HSM", "oct-HSM")


def hsm_scope_norm(s):
    """A Managed HSM local RBAC scope ('/', '/keys', '/keys/{name}', 'keys') in canonical
    form (leading '/', no trailing '/', key names lowercase), or None if it is not one."""
    if not isinstance(s, str):
        return None
    parts = [p for p in s.strip().split("/") if p]
    if not parts:
        return "/"
    if parts[0].lower() != "keys" or len(parts) > 2:
        return None
    if len(parts) == 1:
        return "/keys"
    if not parts[1] or not all(c.isalnum() or c == "-" for c in parts[1]):
        return None
    return "/keys/" + parts[1].lower()


def hsm_scope_covers(ancestor, scope):
    """True if HSM scope 'ancestor' is 'scope' or above it ('/' > '/keys' > '/keys/{name}')."""
    a, s = hsm_scope_norm(ancestor), hsm_scope_norm(scope)
    if a is None or s is None:
        return False
    return a == "/" or a == s or s.startswith(a + "/")


def action_matches(pattern, action):
    """Azure RBAC action pattern ('*' wildcard, case-insensitive) against an action."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


# --- time ---------------------------------------------------------------------------

_REL = re.compile(r"^now\s*(?:([+-])\s*(\d+(?:\.\d+)?)\s*([smhdwy]?))?$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class TimeParseError(ValueError):
    pass


def parse_time(v, now):
    """Scenario time: int/float unix seconds, "now", "now+30d", "now-2h", or an ISO 8601
    date-time ("2025-01-01T00:00:00Z"). None stays None. Returns int seconds."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise TimeParseError("a time must be a number or a string, not a boolean")
    if isinstance(v, (int, float)):
        return int(v)
    if not isinstance(v, str):
        raise TimeParseError("a time must be a number or a string")
    s = v.strip()
    m = _REL.match(s)
    if m:
        if not m.group(1):
            return int(now)
        delta = float(m.group(2)) * _UNITS[m.group(3)]
        return int(now + delta if m.group(1) == "+" else now - delta)
    try:
        t = s.replace("Z", "+00:00")
        d = datetime.datetime.fromisoformat(t)
        if d.tzinfo is None:
            d = d.replace(tzinfo=datetime.timezone.utc)
        return int(d.timestamp())
    except ValueError:
        raise TimeParseError("'%s' is not a time (use unix seconds, 'now+30d' or ISO 8601)" % v)


_DUR = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_iso_duration(s):
    """ISO 8601 duration (P90D, P2Y, PT1H) -> seconds (years 365 d, months 30 d), or None."""
    if not isinstance(s, str):
        return None
    m = _DUR.match(s.strip().upper())
    if not m or s.strip().upper() in ("P", "PT"):
        return None
    y, mo, w, d, h, mi, se = (int(x) if x else 0 for x in m.groups())
    return y * 31536000 + mo * 2592000 + w * 604800 + d * 86400 + h * 3600 + mi * 60 + se


def iso_utc(t, frac=True):
    """Unix seconds -> '2025-01-02T03:04:05.1234567Z' (ARM style)."""
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    if frac:
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%07d" % (d.microsecond * 10) + "Z"
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


# --- ids and encodings --------------------------------------------------------------

_NS = uuid.UUID("6f1c0f43-8d1a-4c4e-9a55-2b7c1d0e3a11")


def det_uuid(*parts):
    """Deterministic UUID for scenario entities that do not name one."""
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


def det_hex32(*parts):
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:32]


def det_bytes(n, *parts):
    out = b""
    i = 0
    seed = "/".join(str(p) for p in parts).encode()
    while len(out) < n:
        out += hashlib.sha256(seed + b"#" + str(i).encode()).digest()
        i += 1
    return out[:n]


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64url_decode(s):
    s = s + "=" * (-len(s) % 4)
    return base64.urlsafe_b64decode(s.encode())


def is_uuid(s):
    try:
        uuid.UUID(str(s))
        return True
    except ValueError:
        return False


def jdump(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- ARM ids ------------------------------------------------------------------------

def arm_id(sub, rg=None, provider=None, rtype=None, name=None):
    s = "/subscriptions/%s" % sub
    if rg is not None:
        s += "/resourceGroups/%s" % rg
    if provider:
        s += "/providers/%s/%s/%s" % (provider, rtype, name)
    return s


def id_key(s):
    """Comparable form of an ARM id / scope: lowercase, no trailing slash, '/' for root."""
    s = (s or "").strip().lower().rstrip("/")
    return s or "/"


def scope_is_at_or_above(ancestor, scope):
    """True if 'ancestor' equals 'scope' or contains it (both ARM ids / scopes)."""
    a, s = id_key(ancestor), id_key(scope)
    if a == "/" or a == s:
        return True
    if a.startswith("/providers/microsoft.management/managementgroups/"):
        return True  # the twin puts every subscription under every management group
    return s.startswith(a + "/")


def glob_match(pattern, value):
    if pattern is None:
        return True
    return fnmatch.fnmatchcase((value or "").lower(), pattern.lower())


def to_unix(d):
    return calendar.timegm(d.utctimetuple())
