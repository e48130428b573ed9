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
