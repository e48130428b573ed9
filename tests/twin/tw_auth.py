# Token issuers of the twin: the managed-identity endpoint (IMDS, plain HTTP) and Microsoft
# Entra ID v2 client credentials (client secret or federated assertion), with the error
# shapes clients see from the real services. Tokens are opaque JWT look-alikes the World
# remembers (audience, principal, expiry); nothing here checks them on other services.

import base64
import json
import time
import urllib.parse
import uuid

from tw_common import API_VERSIONS, audience_kind, b64url_decode
from tw_http import json_response

IMDS_HEADERS = [("Server", "IMDS/150.870.65.1854")]
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
IGNORED_SCOPES = {"openid", "profile", "offline_access"}


def bearer_of(req):
    """The bearer token of a request, or None; stores it on req."""
    a = req.header("Authorization")
    if not a:
        return None
    parts = a.split(None, 1)
    if len(parts) == 2 and parts[0].lower() in ("bearer", "pop"):
        req.token = parts[1].strip()
        return req.token
    req.token = ""
    return ""


def lookup_token(world, req):
    """Resolves the request's bearer token to its record (no validation); sets
    req.token_rec and req.principal for logging and fault matching."""
    tok = bearer_of(req)
    if tok:
        rec = world.tokens.get(tok)
        if rec is not None:
            req.token_rec = rec
            req.principal = world.principals_by_name.get(rec.principal)


# --- IMDS ---------------------------------------------------------------------------

def imds_error(status, error, desc):
    r = json_response(status, {"error": error, "error_description": desc}, IMDS_HEADERS)
    return r


def handle_imds(world, req, t):
    if req.path.rstrip("/") != "/metadata/identity/oauth2/token":
        if req.path.startswith("/metadata/"):
            return imds_error(404, "not_found", "The requested path was not found on this IMDS endpoint "
                                                 "(the twin serves /metadata/identity/oauth2/token only)")
        return imds_error(400, "bad_request", "Bad request")
    if req.method != "GET":
        return imds_error(405, "method_not_allowed", "Only GET is allowed")
    if (req.header("Metadata") or "").strip() != "true":  # the documented value, lowercase
        return imds_error(400, "bad_request_102", "Required metadata header not specified")
    av = req.query.get("api-version")
    if not av:
        return imds_error(400, "invalid_request", "Required query variable 'api-version' is missing")
    if av not in world.settings["api_versions"].get("imds", API_VERSIONS["imds"]):
        return imds_error(400, "invalid_request", "Invalid or unsupported api-version '%s'" % av)
    resource = req.query.get("resource")
    if not resource:
        return imds_error(400, "invalid_request", "Required query variable 'resource' is missing")
    sel = [(k, req.query[k]) for k in ("client_id", "object_id", "msi_res_id") if req.query.get(k)]
    if len(sel) > 1:
        return imds_error(400, "invalid_request", "Only one of client_id, object_id or msi_res_id may be given")
    vm = [p for p in world.principals if p.type in ("system-assigned", "user-assigned")]
    p = None
    if not sel:
        p = next((x for x in vm if x.type == "system-assigned"), None)
    else:
        k, v = sel[0]
        v = v.strip().lower()
        for x in vm:
            if k == "client_id" and x.client_id == v or k == "object_id" and x.object_id == v:
                p = x
                break
            if k == "msi_res_id" and x.identity_id and x.identity_id.lower() == v.rstrip("/"):
                p = x
                break
    if p is not None and p.identity_id:
        ident = world.identities.get(p.identity_id.lower())
        if ident is None or ident.deleted:
            p = None
    if p is None or p.disabled:
        return imds_error(400, "invalid_request", "Identity not found")
    kind, cloud = audience_kind(resource)
    if kind is None:
        return imds_error(400, "invalid_resource", "AADSTS500011: The resource principal named %s was not found in "
                          "the tenant named %s. This can happen if the application has not been installed by the "
                          "administrator of the tenant or consented to by any user in the tenant. You might have "
                          "sent your authentication request to the wrong tenant." % (resource, p.tenant_id))
    tok, rec = world.issue_token(p, resource, kind, cloud, t)
    req.principal = p
    req.token_rec = rec
    life = rec.exp - rec.iat
    return json_response(200, {"access_token": tok, "client_id": p.client_id, "expires_in": str(life),
                               "expires_on": str(rec.exp), "ext_expires_in": str(life),
                               "not_before": str(rec.iat - 300), "resource": resource, "token_type": "Bearer",
                               "refresh_token": ""}, IMDS_HEADERS)


# --- Entra ID -------------------------------------------------------------------------

def _entra_headers():
    return [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"),
            ("x-ms-request-id", str(uuid.uuid4())), ("x-ms-ests-server", "2.1.twin"),
            ("X-Content-Type-Options", "nosniff"), ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")]


def entra_error(status, error, code, desc, host):
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    ts = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    full = "AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s" % (code, desc, trace, corr, ts)
    return json_response(status, {"error": error, "error_description": full, "error_codes": [code],
                                  "timestamp": ts, "trace_id": trace, "correlation_id": corr,
                                  "error_uri": "https://%s/error?code=%d" % (host, code)}, _entra_headers())


def _resolve_tenant(world, seg):
    s = seg.lower()
    if s in world.tenants:
        return s
    if s in world.tenant_names:
        return world.tenant_names[s]
    for tid, tn in world.tenants.items():
        if tn.name and s in (tn.name.lower() + ".onmicrosoft.com",):
            return tid
    return None


def handle_entra(world, req, t):
    segs = [s for s in req.path.split("/") if s]
    host = req.host
    if req.method == "GET" and len(segs) >= 3 and segs[-3:] == ["common", "discovery", "instance"]:
        auth_ep = req.query.get("authorization_endpoint", "https://%s/common/oauth2/v2.0/authorize" % host)
        ten = "common"
        try:
            ten = urllib.parse.urlparse(auth_ep).path.strip("/").split("/")[0] or "common"
        except ValueError:
            pass
        return json_response(200, {"tenant_discovery_endpoint":
                                   "https://%s/%s/v2.0/.well-known/openid-configuration" % (host, ten),
                                   "api-version": "1.1",
                                   "metadata": [{"preferred_network": host, "preferred_cache": host,
                                                 "aliases": [host]}]}, _entra_headers())
    if req.method == "GET" and len(segs) >= 2 and segs[-2:] == [".well-known", "openid-configuration"]:
        ten = segs[0]
        v2 = "v2.0" in segs
        tid = _resolve_tenant(world, ten) if ten not in ("common", "organizations", "consumers") else "{tenantid}"
        if tid is None:
            return entra_error(400, "invalid_tenant", 90002, "Tenant '%s' not found. Check to make sure you have the "
                               "correct tenant ID and are signing into the correct cloud." % ten, host)
        base = "https://%s/%s" % (host, ten)
        issuer = ("https://%s/%s/v2.0" % (host, tid)) if v2 else ("https://sts.windows.net/%s/" % tid)
        return json_response(200, {
            "token_endpoint": base + ("/oauth2/v2.0/token" if v2 else "/oauth2/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": base + "/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer, "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": base + ("/oauth2/v2.0/authorize" if v2 else "/oauth2/authorize"),
            "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
            "http_logout_supported": True, "frontchannel_logout_supported": True,
            "end_session_endpoint": base + "/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid"],
            "kerberos_endpoint": base + "/kerberos", "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com", "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com", "rbac_url": "https://pas.windows.net"}, _entra_headers())
    if req.method == "GET" and segs[-3:] == ["discovery", "v2.0", "keys"] or segs[-2:] == ["discovery", "keys"]:
        return json_response(200, {"keys": []}, _entra_headers())
    if len(segs) >= 3 and segs[1] == "oauth2" and segs[-1] == "token":
        if req.method != "POST":
            return entra_error(405, "invalid_request", 900561, "The endpoint only accepts POST requests. "
                               "Received a %s request." % req.method, host)
        v1 = segs[2] != "v2.0"
        return _token(world, req, t, segs[0], v1)
    return entra_error(404, "invalid_request", 900561, "The twin does not serve %s %s." % (req.method, req.path),
                       host)


def _form(req):
    ct = (req.header("Content-Type") or "").lower()
    if "application/x-www-form-urlencoded" not in ct:
        return None
    try:
        return dict(urllib.parse.parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None


def _decode_jwt_claims(s):
    parts = s.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        return json.loads(b64url_decode(parts[1]).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def _token(world, req, t, tenant_seg, v1):
    host = req.host
    form = _form(req)
    if form is None:
        return entra_error(400, "invalid_request", 900144, "The request body must contain the following parameter: "
                           "'grant_type'.", host)
    tid = _resolve_tenant(world, tenant_seg)
    if tid is None:
        if tenant_seg.lower() in ("common", "organizations", "consumers"):
            return entra_error(400, "invalid_request", 700016, "The client credentials flow needs a tenant id in "
                               "the authority, not '%s'." % tenant_seg, host)
        return entra_error(400, "invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the "
                           "correct tenant ID and are signing into the correct cloud. Check with your subscription "
                           "administrator, this may happen if there are no active subscriptions for the tenant."
                           % tenant_seg, host)
    gt = form.get("grant_type")
    if not gt:
        return entra_error(400, "invalid_request", 900144, "The request body must contain the following parameter: "
                           "'grant_type'.", host)
    if gt != "client_credentials":
        return entra_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type "
                           "'%s'." % gt, host)
    cid = form.get("client_id")
    basic_secret = None
    auth = req.header("Authorization") or ""
    if auth.lower().startswith("basic "):
        try:
            u, _, pw = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            cid = cid or urllib.parse.unquote(u)
            basic_secret = urllib.parse.unquote(pw)
        except (ValueError, UnicodeDecodeError):
            pass
    if not cid:
        return entra_error(400, "invalid_request", 900144, "The request body must contain the following parameter: "
                           "'client_id'.", host)
    resource = None
    if v1:
        resource = form.get("resource")
        if not resource:
            return entra_error(400, "invalid_request", 900144, "The request body must contain the following "
                               "parameter: 'resource'.", host)
    else:
        scope = form.get("scope")
        if not scope:
            return entra_error(400, "invalid_request", 900144, "The request body must contain the following "
                               "parameter: 'scope'.", host)
        scopes = [s for s in scope.split() if s.lower() not in IGNORED_SCOPES]
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return entra_error(400, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client "
                               "credential flows must have a scope value with /.default suffixed to the resource "
                               "identifier (application ID URI)." % scope, host)
        resource = scopes[0][: -len(".default")]
        if resource.endswith("//"):
            resource = resource[:-1]
    p = None
    for x in world.principals:
        if x.type == "app" and x.client_id == cid.lower() and x.tenant_id == tid:
            p = x
            break
    if p is None:
        return entra_error(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found in "
                           "the directory '%s'. This can happen if the application has not been installed by the "
                           "administrator of the tenant or consented to by any user in the tenant. You may have sent "
                           "your authentication request to the wrong tenant." % (cid, tid), host)
    if p.disabled:
        return entra_error(400, "unauthorized_client", 7000112, "Application '%s' is disabled." % cid, host)
    secret = form.get("client_secret", basic_secret)
    assertion = form.get("client_assertion")
    if assertion is not None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return entra_error(400, "invalid_request", 700025, "client_assertion_type must be '%s'." % ASSERTION_TYPE,
                               host)
        claims = _decode_jwt_claims(assertion)
        if claims is None:
            return entra_error(400, "invalid_client", 50027, "JWT token is invalid or malformed.", host)
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= t or (isinstance(claims.get("nbf"), (int, float))
                                                              and claims["nbf"] > t + 300):
            return entra_error(400, "invalid_client", 700024, "Client assertion is not within its valid time range. "
                               "Current time: %s, assertion valid from %s, expiry time of assertion %s."
                               % (time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(t)), claims.get("nbf"),
                                  exp), host)
        fed = p.federated
        if not fed:
            return entra_error(401, "invalid_client", 700027, "Client assertion failed signature validation: the "
                               "application has no federated identity credential.", host)
        if isinstance(fed, dict):
            want_iss, want_sub = fed.get("issuer"), fed.get("subject")
            want_aud = fed.get("audience", FEDERATED_AUDIENCE)
            aud = claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            if (want_iss and claims.get("iss") != want_iss) or (want_sub and claims.get("sub") != want_sub) or \
                    want_aud not in auds:
                return entra_error(400, "invalid_client", 70021, "No matching federated identity record found for "
                                   "presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion "
                                   "Audience: '%s'." % (claims.get("iss"), claims.get("sub"), aud), host)
    elif secret is not None:
        if p.client_secret is None or secret != p.client_secret:
            return entra_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                               "being sent in the request is the client secret value, not the client secret ID, for "
                               "a secret added to app '%s'." % cid, host)
    else:
        return entra_error(401, "invalid_client", 7000218, "The request body must contain the following parameter: "
                           "'client_assertion' or 'client_secret'.", host)
    kind, cloud = audience_kind(resource)
    if kind is None:
        return entra_error(400, "invalid_resource", 500011, "The resource principal named %s was not found in the "
                           "tenant named %s. This can happen if the application has not been installed by the "
                           "administrator of the tenant or consented to by any user in the tenant. You might have "
                           "sent your authentication request to the wrong tenant." % (resource, tid), host)
    tok, rec = world.issue_token(p, resource, kind, cloud, t)
    req.principal = p
    req.token_rec = rec
    life = rec.exp - rec.iat
    if v1:
        body = {"token_type": "Bearer", "expires_in": str(life), "ext_expires_in": str(life),
                "expires_on": str(rec.exp), "not_before": str(rec.iat - 300), "resource": resource,
                "access_token": tok}
    else:
        body = {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": tok}
    return json_response(200, body, _entra_headers())

