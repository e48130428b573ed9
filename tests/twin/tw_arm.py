# Azure Resource Manager as the twin serves it: authentication, api-version checks,
# subscription lookup, token-bucket throttling with the remaining-quota headers, scope
# denials, and the operations cmkd uses (subscriptions, mongoClusters with their LROs,
# userAssignedIdentities, Key Vault vaults and Managed HSMs, role assignments and definitions).
# Answers and errors follow the published ARM shapes ({"error":{"code","message"}}).

import uuid

from tw_common import API_VERSIONS, arm_id, b64url, b64url_decode, id_key, iso_utc, scope_is_at_or_above
from tw_http import json_response

READ, WRITE, DELETE = "reads", "writes", "deletes"
CLUSTER_RO = ("provisioningState", "clusterStatus", "connectionString", "infrastructureVersion",
              "privateEndpointConnections", "replica", "backup")
CLUSTER_MUTABLE = {"administrator": dict, "serverVersion": str, "publicNetworkAccess": str,
                   "highAvailability": dict, "storage": dict, "sharding": dict, "compute": dict, "dataApi": dict,
                   "previewFeatures": list, "authConfig": dict, "networkBypassMode": str}
CLUSTER_CREATE_ONLY = {"createMode": str, "restoreParameters": dict, "replicaParameters": dict}
TOGETHER_MSG = ("User assigned identity and keyvault key need to be provided together. Please provide "
                "identity.userAssignedIdentities and properties.encryption.customerManagedKeyEncryption "
                "(keyEncryptionKeyIdentity and keyEncryptionKeyUrl) together.")
KEY_NOT_FOUND_MSG = ("The operation could not be completed because the Azure Key Vault Key name '%s' does not exist "
                     "or User Assigned Identity does not have Get access to the Key "
                     "(https://learn.microsoft.com/azure/documentdb/database-encryption-at-rest#cmk-requirements).")


def arm_headers():
    rid = str(uuid.uuid4())
    return [("Cache-Control", "no-cache"), ("Pragma", "no-cache"), ("Expires", "-1"),
            ("x-ms-request-id", rid), ("x-ms-correlation-request-id", rid),
            ("x-ms-routing-request-id", "WESTUS2:%s:%s" % ("20250101T000000Z", rid)),
            ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
            ("X-Content-Type-Options", "nosniff")]


def err(status, code, message, extra_headers=None, details=None):
    e = {"code": code, "message": message}
    if details:
        e["details"] = details
    return json_response(status, {"error": e}, arm_headers() + list(extra_headers or []))


def _ok(obj, status=200, extra=None):
    return json_response(status, obj, arm_headers() + list(extra or []))


class Arm:
    def __init__(self, world):
        self.w = world

    # --- entry --------------------------------------------------------------------

    def handle(self, req, t):
        w = self.w
        segs = [s for s in req.path.split("/") if s]
        req.segs = segs
        low = [s.lower() for s in segs]
        # authentication
        www = 'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", ' \
              'error_description="The authentication failed because of missing \'Authorization\' header."'
        auth = req.header("Authorization")
        if not auth:
            return err(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                       [("WWW-Authenticate", www)])
        parts = auth.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return err(401, "InvalidAuthenticationToken", "The access token is invalid.",
                       [("WWW-Authenticate", 'Bearer authorization_uri="https://login.windows.net/", '
                                             'error="invalid_token", error_description="The access token is '
                                             'invalid."')])
        rec = w.tokens.get(parts[1].strip())
        bad_www = [("WWW-Authenticate", 'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", '
                                        'error_description="The access token is invalid."')]
        if rec is None or rec.revoked:
            return err(401, "InvalidAuthenticationToken", "The access token is invalid.", bad_www)
        req.token_rec = rec
        req.principal = w.principals_by_name.get(rec.principal)
        if rec.kind != "arm" or rec.cloud != req.cloud:
            from tw_common import CLOUDS
            auds = CLOUDS[req.cloud]["arm_audiences"]
            allowed = ",".join("'%s/','%s'" % (a, a) for a in auds)
            return err(401, "InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong "
                       "audience or resource '%s'. It should exactly match with one of the allowed audiences %s."
                       % (rec.aud, allowed), bad_www)
        if rec.exp <= t:
            return err(401, "ExpiredAuthenticationToken", "The access token expiry UTC time '%s' is earlier than "
                       "current UTC time '%s'." % (iso_utc(rec.exp, False), iso_utc(t, False)),
                       [("WWW-Authenticate", 'Bearer authorization_uri="https://login.windows.net/", '
                                             'error="invalid_token", error_description="The access token has '
                                             'expired."')])
        if req.principal is None or req.principal.disabled:
            return err(401, "InvalidAuthenticationToken", "The access token is invalid.", bad_www)
        # routing
        kind = {"GET": READ, "HEAD": READ, "DELETE": DELETE}.get(req.method, WRITE)
        route = self._route(low)
        if route is None:
            return self._throttled(req, t, None, kind, lambda: err(
                404, "InvalidResourceType" if len(segs) > 2 else "NotFound",
                "The resource type could not be found in the namespace for api version '%s'." % req.api_version))
        name, rtype, sub = route
        if rtype is not None:
            av = req.api_version
            if not av:
                return err(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all requests.")
            supported = w.settings["api_versions"].get(rtype, API_VERSIONS[rtype])
            if av not in supported:
                if rtype in ("subscriptions",):
                    return err(400, "InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported "
                               "versions are '%s'." % (av, ",".join(supported)))
                return err(400, "NoRegisteredProviderFound", "No registered resource provider found for location "
                           "'%s' and API version '%s' for type '%s'. The supported api-versions are '%s'."
                           % ("westus2", av, rtype, ", ".join(supported)))
        scope_key = None
        if sub is not None:
            s = w.subs.get(sub.lower())
            if s is None or s.cloud != req.cloud:
                return err(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % sub)
            if s.tenant_id != rec.tid:
                return err(401, "InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer "
                           "'https://sts.windows.net/%s/'. It must match the tenant 'https://sts.windows.net/%s/' "
                           "associated with this subscription. Please use the authority (URL) "
                           "'https://login.windows.net/%s' to get the token. Note, if the subscription is transferred "
                           "to another tenant there is no impact to the services, but information about new tenant "
                           "could take time to propagate (up to an hour). If you just transferred your subscription "
                           "and see this error message, please try back later." % (rec.tid, s.tenant_id, s.tenant_id),
                           [("WWW-Authenticate", 'Bearer authorization_uri="https://login.windows.net/%s", '
                                                 'error="invalid_token", error_description="The access token is from '
                                                 'the wrong issuer."' % s.tenant_id)])
            scope_key = s.id
        fn = getattr(self, "r_" + name)
        return self._throttled(req, t, scope_key, kind, lambda: fn(req, t, segs, low))

    def _throttled(self, req, t, scope_key, kind, fn):
        w = self.w
        rec = req.token_rec
        key = scope_key if scope_key else "tenant:" + rec.tid
        ok, remaining, retry = w.throttle(rec.oid, key, kind, t)
        hname = "x-ms-ratelimit-remaining-%s-%s" % ("subscription" if scope_key else "tenant", kind)
        if not ok:
            what = {READ: "read", WRITE: "write", DELETE: "delete"}[kind]
            if scope_key:
                msg = ("Number of '%s' requests for subscription '%s' actor '%s' exceeded. Please try again after "
                       "'%d' seconds after additional tokens are available. Refer to "
                       "https://aka.ms/arm-throttling" % (what, scope_key, rec.oid, retry))
                code = "SubscriptionRequestsThrottled"
            else:
                msg = ("Number of '%s' requests for tenant '%s' actor '%s' exceeded. Please try again after '%d' "
                       "seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling"
                       % (what, rec.tid, rec.oid, retry))
                code = "TenantRequestsThrottled"
            r = err(429, code, msg, [("Retry-After", str(retry)), (hname, "0")])
            req.log_extra["throttled"] = True
            return r
        r = fn()
        r.add(hname, remaining)
        return r

    def _route(self, low):
        """-> (handler name, api-version family, subscription id or None) or None."""
        n = len(low)
        # authorization provider at any scope
        for i in range(n - 2, -1, -1):
            if low[i] == "providers" and low[i + 1] == "microsoft.authorization":
                rest = low[i + 2:]
                sub = low[1] if n > 1 and low[0] == "subscriptions" and i >= 2 else None
                if rest == ["roleassignments"]:
                    return "ra_list", "roleAssignments", sub
                if len(rest) == 2 and rest[0] == "roleassignments":
                    return "ra_get", "roleAssignments", sub
                if rest == ["roledefinitions"]:
                    return "rd_list", "roleDefinitions", sub
                if len(rest) == 2 and rest[0] == "roledefinitions":
                    return "rd_get", "roleDefinitions", sub
                return None
        if n == 1 and low[0] == "subscriptions":
            return "subs_list", "subscriptions", None
        if n < 2 or low[0] != "subscriptions":
            return None
        sub = low[1]
        if n == 2:
            return "sub_get", "subscriptions", sub
        rest = low[2:]
        if rest[:1] == ["providers"]:
            p = rest[1:]
            if p == ["microsoft.documentdb", "mongoclusters"]:
                return "clusters_list", "mongoClusters", sub
            if len(p) == 5 and p[0] == "microsoft.documentdb" and p[1] == "locations" and \
                    p[3] in ("mongoclusterazureasyncoperation", "mongoclusteroperationresults"):
                return ("op_status" if p[3] == "mongoclusterazureasyncoperation" else "op_result"), \
                    "mongoClusters", sub
            if p == ["microsoft.keyvault", "vaults"]:
                return "vaults_list", "vaults", sub
            if p == ["microsoft.keyvault", "deletedvaults"]:
                return "deleted_vaults_list", "vaults", sub
            if len(p) == 5 and p[:2] == ["microsoft.keyvault", "locations"] and p[3] == "deletedvaults":
                return "deleted_vault_get", "vaults", sub
            if p == ["microsoft.keyvault", "managedhsms"]:
                return "hsms_list", "managedHSMs", sub
            if p == ["microsoft.keyvault", "deletedmanagedhsms"]:
                return "deleted_hsms_list", "managedHSMs", sub
            if len(p) == 5 and p[:2] == ["microsoft.keyvault", "locations"] and p[3] == "deletedmanagedhsms":
                return "deleted_hsm_get", "managedHSMs", sub
            if p == ["microsoft.managedidentity", "userassignedidentities"]:
                return "identities_list", "userAssignedIdentities", sub
            return None
        if rest[:1] == ["resourcegroups"] and len(rest) >= 2:
            r = rest[2:]
            if not r:
                return "rg_get", "subscriptions", sub
            if r[:1] != ["providers"]:
                return None
            p = r[1:]
            if p == ["microsoft.documentdb", "mongoclusters"]:
                return "clusters_list_rg", "mongoClusters", sub
            if len(p) == 3 and p[:2] == ["microsoft.documentdb", "mongoclusters"]:
                return "cluster", "mongoClusters", sub
            if p == ["microsoft.keyvault", "vaults"]:
                return "vaults_list_rg", "vaults", sub
            if len(p) == 3 and p[:2] == ["microsoft.keyvault", "vaults"]:
                return "vault_get", "vaults", sub
            if p == ["microsoft.keyvault", "managedhsms"]:
                return "hsms_list_rg", "managedHSMs", sub
            if len(p) == 3 and p[:2] == ["microsoft.keyvault", "managedhsms"]:
                return "hsm_get", "managedHSMs", sub
            if len(p) == 3 and p[:2] == ["microsoft.managedidentity", "userassignedidentities"]:
                return "identity_get", "userAssignedIdentities", sub
            if p == ["microsoft.managedidentity", "userassignedidentities"]:
                return "identities_list_rg", "userAssignedIdentities", sub
        return None

    # --- helpers -----------------------------------------------------------------------

    def _deny(self, req, scope, action, what):
        d = self.w.arm_denied(req.token_rec.oid, scope, action)
        if d is None:
            return None
        oid = req.token_rec.oid
        return err(403, "AuthorizationFailed", "The client '%s' with object id '%s' does not have authorization to "
                   "perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, "
                   "please refresh your credentials." % (oid, oid, what, scope))

    def _rg(self, req, segs):
        s = self.w.subs[segs[1].lower()]
        rg = s.rgs.get(segs[3].lower())
        if rg is None:
            return None, err(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % segs[3])
        return rg, None

    def _page(self, req, items, page_size, render):
        tok = req.query.get("$skipToken") or req.qlower.get("$skiptoken")
        start = 0
        if tok:
            try:
                start = int(b64url_decode(tok).decode().split(":", 1)[1])
            except (ValueError, IndexError, UnicodeDecodeError):
                return err(400, "InvalidSkipToken", "The skip token '%s' is not valid." % tok)
        top = req.qlower.get("$top")
        if top is not None:
            try:
                page_size = max(1, min(1000, int(top)))
            except ValueError:
                return err(400, "InvalidTopValue", "The value '%s' of $top is not a valid integer." % top)
        chunk = items[start:start + page_size]
        body = {"value": [render(x) for x in chunk]}
        if start + page_size < len(items):
            nxt = b64url(("o:%d" % (start + page_size)).encode())
            extra = "&%24top=" + str(page_size) if top is not None else ""
            body["nextLink"] = "https://%s%s?api-version=%s%s&%%24skipToken=%s" % (
                req.host, req.raw_path, req.api_version, extra, nxt)
        return _ok(body)

    # --- subscriptions -------------------------------------------------------------------

    def _sub_json(self, s):
        return {"id": "/subscriptions/" + s.id, "subscriptionId": s.id, "tenantId": s.tenant_id,
                "displayName": s.name, "state": s.state,
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                         "spendingLimit": "Off"},
                "authorizationSource": "RoleBased", "managedByTenants": [{"tenantId": x} for x in s.managed_by],
                "tags": dict(s.tags)}

    def r_subs_list(self, req, t, segs, low):
        rec = req.token_rec
        subs = [s for s in self.w.subs.values() if s.tenant_id == rec.tid and s.cloud == req.cloud
                and not self.w.arm_denied(rec.oid, "/subscriptions/" + s.id, "read")]
        return self._page(req, subs, self.w.settings["arm_page_size"], self._sub_json)

    def r_sub_get(self, req, t, segs, low):
        s = self.w.subs[low[1]]
        d = self._deny(req, "/subscriptions/" + s.id, "read", "Microsoft.Resources/subscriptions/read")
        return d or _ok(self._sub_json(s))

    def r_rg_get(self, req, t, segs, low):
        if req.method != "GET":
            return err(405, "MethodNotAllowed", "The twin serves GET only on resource groups.")
        rg, e = self._rg(req, segs)
        if e:
            return e
        rid = arm_id(rg.sub, rg.name)
        d = self._deny(req, rid, "read", "Microsoft.Resources/subscriptions/resourceGroups/read")
        return d or _ok({"id": rid, "name": rg.name, "type": "Microsoft.Resources/resourceGroups",
                         "location": rg.location, "properties": {"provisioningState": "Succeeded"}})

    # --- mongoClusters -----------------------------------------------------------------

    def _cluster_list(self, req, t, sub, rg_name):
        w = self.w
        oid = req.token_rec.oid
        scope = "/subscriptions/" + sub + ("/resourceGroups/" + rg_name if rg_name else "")
        d = self._deny(req, scope, "read", "Microsoft.DocumentDB/mongoClusters/read")
        if d:
            return d
        items = [cl for cl in w.clusters.values() if cl.sub == sub and (rg_name is None or cl.rg.lower() ==
                                                                         rg_name.lower())
                 and not w.arm_denied(oid, cl.id, "read")]
        av = req.api_version
        return self._page(req, items, w.settings["arm_page_size"], lambda cl: w.cluster_json(cl, av, t))

    def r_clusters_list(self, req, t, segs, low):
        if req.method != "GET":
            return err(405, "MethodNotAllowed", "The requested method is not allowed on this collection.")
        return self._cluster_list(req, t, low[1], None)

    def r_clusters_list_rg(self, req, t, segs, low):
        if req.method != "GET":
            return err(405, "MethodNotAllowed", "The requested method is not allowed on this collection.")
        rg, e = self._rg(req, segs)
        if e:
            return e
        return self._cluster_list(req, t, low[1], rg.name)

    def r_cluster(self, req, t, segs, low):
        w = self.w
        rg, e = self._rg(req, segs)
        if e:
            return e
        name = segs[7]
        cid = arm_id(rg.sub, rg.name, "Microsoft.DocumentDB", "mongoClusters", name)
        cl = w.clusters.get(id_key(cid))
        m = req.method
        action = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(m, "write")
        what = "Microsoft.DocumentDB/mongoClusters/" + action
        d = self._deny(req, cid, action, what)
        if d:
            return d
        if m in ("GET", "HEAD"):
            if cl is None:
                return self._not_found("Microsoft.DocumentDB/mongoClusters", name, rg.name)
            return _ok(w.cluster_json(cl, req.api_version, t))
        if m == "DELETE":
            if cl is None:
                return Response204()
            if cl.op is not None and cl.op.status == "InProgress":
                return self._busy(cl)
            op = self._start(req, cl, "delete", {}, t)
            return self._accepted(req, op, 202, None)
        if m in ("PUT", "PATCH"):
            try:
                body = req.json_body()
            except ValueError as ex:
                return err(400, "InvalidRequestContent", "The request content was invalid and could not be "
                           "deserialized: '%s'." % ex)
            if not isinstance(body, dict):
                return err(400, "InvalidRequestContent", "The request content was invalid and could not be "
                           "deserialized: the body must be a JSON object.")
            if cl is None:
                if m == "PATCH":
                    return self._not_found("Microsoft.DocumentDB/mongoClusters", name, rg.name)
                return self._create(req, t, rg, name, body)
            if cl.op is not None and cl.op.status == "InProgress":
                return self._busy(cl)
            return self._update(req, t, cl, body, m)
        return err(405, "MethodNotAllowed", "The requested resource does not support http method '%s'." % m)

    def _not_found(self, rtype, name, rg):
        return err(404, "ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was not found. For more "
                   "details please go to https://aka.ms/ARMResourceNotFoundFix" % (rtype, name, rg))

    def _busy(self, cl):
        return err(409, "AnotherOperationInProgress", "Cannot perform the requested operation on mongo cluster '%s' "
                   "because another operation is in progress on it. Please retry after the operation completes."
                   % cl.name)

    def _start(self, req, cl, kind, pending, t):
        outcome = error = fail_status = None
        if req.lro_override:
            outcome, error, fail_status = req.lro_override
        cl.modified_by = req.principal.client_id if req.principal else None
        return self.w.start_op(cl, kind, pending, t, outcome=outcome, error=error, fail_status=fail_status)

    def _accepted(self, req, op, status, body):
        av = req.api_version
        base = "https://%s/subscriptions/%s/providers/Microsoft.DocumentDB/locations/%s/" % (req.host, op.sub,
                                                                                            op.region)
        hdrs = [("Azure-AsyncOperation", base + "mongoClusterAzureAsyncOperation/%s?api-version=%s" % (op.id, av)),
                ("Location", base + "mongoClusterOperationResults/%s?api-version=%s" % (op.id, av)),
                ("Retry-After", str(int(self.w.settings["retry_after_s"])))]
        if body is None:
            from tw_http import Response
            r = Response(status, b"", arm_headers() + hdrs)
            return r
        return _ok(body, status, hdrs)

    def _check_props(self, props, create):
        for k, v in props.items():
            want = CLUSTER_MUTABLE.get(k) or CLUSTER_CREATE_ONLY.get(k)
            if k == "encryption":
                if not isinstance(v, dict):
                    return "properties.encryption must be an object"
                continue
            if want is not None and not isinstance(v, want):
                return "properties.%s must be %s" % (k, {dict: "an object", str: "a string", list: "an array"}[want])
        st = props.get("storage")
        if isinstance(st, dict) and "sizeGb" in st and (not isinstance(st["sizeGb"], int) or
                                                       isinstance(st["sizeGb"], bool)):
            return "properties.storage.sizeGb must be an integer"
        sh = props.get("sharding")
        if isinstance(sh, dict) and "shardCount" in sh and (not isinstance(sh["shardCount"], int) or
                                                           isinstance(sh["shardCount"], bool)):
            return "properties.sharding.shardCount must be an integer"
        return None

    def _cmk_from_body(self, req, t, body, cl_for_update):
        """Validates identity + encryption of a PUT/PATCH body. Returns (cmk dict or None,
        list of identities to attach, error Response or None)."""
        w = self.w
        props = body.get("properties") or {}
        identity = body.get("identity")
        enc = props.get("encryption")
        cmk_req = enc.get("customerManagedKeyEncryption") if isinstance(enc, dict) else None
        if enc is not None and isinstance(enc, dict) and "customerManagedKeyEncryption" in enc and \
                not isinstance(cmk_req, dict):
            return None, [], err(400, "InvalidParameter", "properties.encryption.customerManagedKeyEncryption must "
                                 "be an object.")
        uamis = None
        if identity is not None:
            if not isinstance(identity, dict):
                return None, [], err(400, "InvalidRequestContent", "The request content was invalid and could not "
                                     "be deserialized: 'identity' must be an object.")
            itype = identity.get("type")
            if itype not in ("None", "SystemAssigned", "UserAssigned", "SystemAssigned,UserAssigned",
                             "SystemAssigned, UserAssigned"):
                return None, [], err(400, "InvalidIdentityType", "The identity type '%s' is not supported. Supported "
                                     "types are 'None', 'SystemAssigned', 'UserAssigned' and "
                                     "'SystemAssigned,UserAssigned'." % itype)
            uamis = identity.get("userAssignedIdentities")
            if uamis is not None and not isinstance(uamis, dict):
                return None, [], err(400, "InvalidRequestContent", "The request content was invalid and could not "
                                     "be deserialized: 'identity.userAssignedIdentities' must be an object.")
            if uamis and "UserAssigned" not in itype:
                return None, [], err(400, "InvalidIdentityValues", "Invalid value for the identities '%s'. The "
                                     "'userAssignedIdentities' property can only be set when the identity type is "
                                     "'UserAssigned'." % ",".join(uamis))
        if cl_for_update is not None and cl_for_update.cmk is None and cmk_req is not None:
            return None, [], err(int(w.settings["put_validation_status"]), "InvalidParameter",
                                 "Data encryption with a customer-managed key can only be chosen when the cluster is "
                                 "created; cluster '%s' uses a service-managed key." % cl_for_update.name)
        has_ident = bool(uamis)
        if not has_ident and cmk_req is None:
            return None, [], None
        kek_ident = cmk_req.get("keyEncryptionKeyIdentity") if cmk_req else None
        kek_url = cmk_req.get("keyEncryptionKeyUrl") if cmk_req else None
        if not (has_ident and isinstance(kek_ident, dict) and isinstance(kek_url, str) and kek_url and
                isinstance(kek_ident.get("userAssignedIdentityResourceId"), str)):
            return None, [], err(int(w.settings["put_validation_status"]), "InvalidParameter", TOGETHER_MSG)
        if kek_ident.get("identityType") != "UserAssignedIdentity":
            return None, [], err(400, "InvalidParameter", "keyEncryptionKeyIdentity.identityType must be "
                                 "'UserAssignedIdentity', got '%s'." % kek_ident.get("identityType"))
        uid = kek_ident["userAssignedIdentityResourceId"]
        if id_key(uid) not in {id_key(k) for k in uamis}:
            return None, [], err(400, "InvalidParameter", "The user assigned identity '%s' named in "
                                 "keyEncryptionKeyIdentity must also be listed in identity.userAssignedIdentities."
                                 % uid)
        # ARM: linked access check and existence of every identity, before the RP sees the call.
        attach = []
        for ident_id in uamis:
            dn = w.arm_denied(req.token_rec.oid, ident_id, "assign")
            if dn:
                oid = req.token_rec.oid
                return None, [], err(403, "LinkedAuthorizationFailed", "The client '%s' with object id '%s' has "
                                     "permission to perform action 'Microsoft.DocumentDB/mongoClusters/write' on "
                                     "scope '%s'; however, it does not have permission to perform action(s) "
                                     "'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked "
                                     "scope(s) '%s' (respectively) or the linked scope(s) are invalid."
                                     % (oid, oid, cl_for_update.id if cl_for_update else "", ident_id))
            ident = w.identities.get(id_key(ident_id))
            if ident is None or ident.deleted:
                return None, [], err(400, "FailedIdentityOperation", "Failed to perform resource identity operation. "
                                     "Status: 'NotFound'. Response: '{\"error\":{\"code\":\"NotFound\",\"message\":"
                                     "\"Resource '%s' does not exist or one of its queried reference-property objects "
                                     "are not present.\"}}'." % ident_id)
            attach.append(ident)
        # The RP adds every valid identity to the cluster, even if the call fails below.
        if cl_for_update is not None:
            for ident in attach:
                w._attach_identity(cl_for_update, ident, refresh=True)
        ident = w.identities[id_key(uid)]
        status = int(w.settings["put_validation_status"])
        pk = w.parse_key_url(kek_url)
        if pk is None:
            return None, attach, err(status, "InvalidParameter", "The value '%s' of keyEncryptionKeyUrl is not a "
                                     "valid Azure Key Vault key identifier "
                                     "(https://{vault-name}.vault.azure.net/keys/{key-name}[/{key-version}])."
                                     % kek_url)
        v, k, kv, ver = w.resolve_key(kek_url)
        ok = v is not None and k is not None and kv is not None
        if ok:
            ok = (ident.tenant_id == v.tenant_id and w.vault_lets_trusted_services_in(v) and
                  (w.kv_granted(v, ident.principal_id, ident.tenant_id, "Microsoft.KeyVault/vaults/keys/read",
                                ("get",), k.name)))
        if not ok:
            return None, attach, err(status, "AzureKeyVaultKeyNameNotFound", KEY_NOT_FOUND_MSG % kek_url)
        return {"identity_id": ident.id, "key_url": kek_url}, attach, None

    def _pending_props(self, props, create):
        out = {}
        for k, v in props.items():
            if k in CLUSTER_MUTABLE or (create and k in CLUSTER_CREATE_ONLY):
                if k == "administrator" and isinstance(v, dict):
                    v = {kk: vv for kk, vv in v.items() if kk != "password"}
                out[k] = v
        return out

    def _update(self, req, t, cl, body, method):
        w = self.w
        props = body.get("properties")
        if props is not None and not isinstance(props, dict):
            return err(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "
                       "'properties' must be an object.")
        props = props or {}
        if method == "PUT":
            loc = body.get("location")
            if not isinstance(loc, str) or not loc:
                return err(400, "LocationRequired", "The location property is required for this definition.")
            if loc.replace(" ", "").lower() != cl.location.replace(" ", "").lower():
                return err(400, "InvalidResourceLocation", "The resource '%s' already exists in location '%s' in "
                           "resource group '%s'. A resource with the same name cannot be created in location '%s'. "
                           "Please select a new resource name." % (cl.name, cl.location, cl.rg, loc))
        if "tags" in body and not isinstance(body["tags"], dict):
            return err(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "
                       "'tags' must be an object.")
        msg = self._check_props(props, False)
        if msg:
            return err(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "
                       "%s." % msg)
        cmk, attach, e = self._cmk_from_body(req, t, body, cl)
        if e:
            return e
        pending = {}
        if cmk is not None:
            pending["cmk"] = cmk
        if "tags" in body:
            pending["tags"] = dict(body["tags"])
        pp = self._pending_props(props, False)
        if pp:
            pending["props"] = pp
        op = self._start(req, cl, "update", pending, t)
        req.log_extra["operation"] = op.id
        if method == "PATCH":
            return self._accepted(req, op, 202, None)
        return self._accepted(req, op, 200, w.cluster_json(cl, req.api_version, t, with_pending=pending))

    def _create(self, req, t, rg, name, body):
        w = self.w
        if not 3 <= len(name) <= 40:
            return err(400, "InvalidResourceName", "The resource name '%s' is invalid: 3 to 40 characters." % name)
        loc = body.get("location")
        if not isinstance(loc, str) or not loc:
            return err(400, "LocationRequired", "The location property is required for this definition.")
        props = body.get("properties")
        if not isinstance(props, dict):
            return err(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "
                       "'properties' is required.")
        msg = self._check_props(props, True)
        if msg:
            return err(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "
                       "%s." % msg)
        cmk, attach, e = self._cmk_from_body(req, t, body, None)
        if e:
            return e
        d = {"name": name, "subscription": rg.sub, "resource_group": rg.name, "location": loc,
             "tags": body.get("tags") or {}, "created": int(t), "status": "Provisioning",
             "provisioning_state": "InProgress",
             "properties": self._pending_props(props, True)}
        cm = props.get("createMode", "Default")
        try:
            cl = w._add_cluster(d, "PUT body", t)
        except Exception as ex:  # ScenarioError from the shared validator
            return err(400, "InvalidRequestContent", str(ex).split(": ", 1)[-1])
        for ident in attach:
            w._attach_identity(cl, ident)
        cl.cmk = cmk
        if cm in ("GeoReplica", "Replica"):
            rp = props.get("replicaParameters") or {}
            cl.replica = {"role": "GeoAsyncReplica" if cm == "GeoReplica" else "AsyncReplica",
                          "sourceResourceId": rp.get("sourceResourceId", ""), "replicationState": "Provisioning"}
            pf = cl.props.setdefault("previewFeatures", [])
            if cm == "GeoReplica" and "GeoReplicas" not in pf:
                pf.append("GeoReplicas")
        cl.props["backup"] = {}
        cl.props.pop("restoreParameters", None)
        cl.props.pop("replicaParameters", None)
        cl.base_status = "Provisioning"
        cl.access_ok, cl.access_reasons, cl.access_next = w.eval_access(cl, t)
        cl.access_changed = t
        op = self._start(req, cl, "create", {}, t)
        cl.provisioning_state = "Succeeded"
        req.log_extra["operation"] = op.id
        return self._accepted(req, op, 201, w.cluster_json(cl, req.api_version, t))

    def _op(self, req, low):
        op = self.w.ops.get(low[-1])
        if op is None or op.sub != low[1]:
            return None
        return op

    def r_op_status(self, req, t, segs, low):
        op = self._op(req, low)
        if op is None:
            return err(404, "ResourceNotFound", "The operation '%s' was not found." % segs[-1])
        extra = [("Retry-After", str(int(self.w.settings["retry_after_s"])))] if op.status == "InProgress" else []
        return _ok(self.w.operation_json(op), 200, extra)

    def r_op_result(self, req, t, segs, low):
        w = self.w
        op = self._op(req, low)
        if op is None:
            return err(404, "ResourceNotFound", "The operation '%s' was not found." % segs[-1])
        if op.status == "InProgress":
            from tw_http import Response
            url = "https://%s%s?%s" % (req.host, req.raw_path, req.query_string)
            return Response(202, b"", arm_headers() + [("Location", url),
                                                       ("Retry-After", str(int(w.settings["retry_after_s"])))])
        if op.status == "Failed":
            return err(op.fail_status, op.error.get("code", "InternalServerError"), op.error.get("message", ""))
        cl = w.clusters.get(op.cluster_key)
        if op.kind == "delete" or cl is None:
            return Response204()
        return _ok(w.cluster_json(cl, req.api_version, t))

    # --- identities ----------------------------------------------------------------------

    def r_identity_get(self, req, t, segs, low):
        if req.method != "GET":
            return err(405, "MethodNotAllowed", "The twin serves GET only on user-assigned identities.")
        rg, e = self._rg(req, segs)
        if e:
            return e
        iid = arm_id(rg.sub, rg.name, "Microsoft.ManagedIdentity", "userAssignedIdentities", segs[7])
        d = self._deny(req, iid, "read", "Microsoft.ManagedIdentity/userAssignedIdentities/read")
        if d:
            return d
        ident = self.w.identities.get(id_key(iid))
        if ident is None or ident.deleted:
            return self._not_found("Microsoft.ManagedIdentity/userAssignedIdentities", segs[7], rg.name)
        return _ok(self.w.identity_json(ident, req.api_version))

    def _identities(self, req, sub, rg_name):
        items = [i for i in self.w.identities.values() if i.sub == sub and not i.deleted and
                 (rg_name is None or i.rg.lower() == rg_name.lower())]
        av = req.api_version
        return self._page(req, items, self.w.settings["arm_page_size"], lambda i: self.w.identity_json(i, av))

    def r_identities_list(self, req, t, segs, low):
        return self._identities(req, low[1], None)

    def r_identities_list_rg(self, req, t, segs, low):
        rg, e = self._rg(req, segs)
        return e or self._identities(req, low[1], rg.name)

    # --- vaults --------------------------------------------------------------------------

    def r_vault_get(self, req, t, segs, low):
        if req.method != "GET":
            return err(405, "MethodNotAllowed", "The twin serves GET only on vaults.")
        rg, e = self._rg(req, segs)
        if e:
            return e
        vid = arm_id(rg.sub, rg.name, "Microsoft.KeyVault", "vaults", segs[7])
        d = self._deny(req, vid, "read", "Microsoft.KeyVault/vaults/read")
        if d:
            return d
        v = self.w.vaults_by_id.get(id_key(vid))
        if v is None or v.deleted_at is not None:
            return self._not_found("Microsoft.KeyVault/vaults", segs[7], rg.name)
        return _ok(self.w.vault_json(v, req.api_version))

    def _vaults(self, req, sub, rg_name):
        d = self._deny(req, "/subscriptions/%s%s" % (sub, "/resourceGroups/" + rg_name if rg_name else ""), "read",
                       "Microsoft.KeyVault/vaults/read")
        if d:
            return d
        oid = req.token_rec.oid
        items = [v for v in self.w.vaults.values() if v.sub == sub and v.deleted_at is None and not v.hsm and
                 (rg_name is None or v.rg.lower() == rg_name.lower()) and not self.w.arm_denied(oid, v.id, "read")]
        av = req.api_version
        return self._page(req, items, self.w.settings["arm_page_size"], lambda v: self.w.vault_json(v, av))

    def r_vaults_list(self, req, t, segs, low):
        return self._vaults(req, low[1], None)

    def r_vaults_list_rg(self, req, t, segs, low):
        rg, e = self._rg(req, segs)
        return e or self._vaults(req, low[1], rg.name)

    def r_deleted_vaults_list(self, req, t, segs, low):
        items = [v for v in self.w.vaults.values() if v.sub == low[1] and v.deleted_at is not None and not v.hsm]
        return self._page(req, items, self.w.settings["arm_page_size"], self.w.deleted_vault_json)

    def r_deleted_vault_get(self, req, t, segs, low):
        for v in self.w.vaults.values():
            if v.sub == low[1] and v.deleted_at is not None and not v.hsm and v.name.lower() == low[-1] and \
                    v.location.lower() == low[5]:
                return _ok(self.w.deleted_vault_json(v))
        return err(404, "ResourceNotFound", "The Resource 'Microsoft.KeyVault/deletedVaults/%s' was not found."
                   % segs[-1])

    # --- Managed HSMs (ManagedHsms_*, keyvault resource-manager openapi.json) --------------

    def r_hsm_get(self, req, t, segs, low):
        if req.method != "GET":
            return err(405, "MethodNotAllowed", "The twin serves GET only on managed HSMs.")
        rg, e = self._rg(req, segs)
        if e:
            return e
        hid = arm_id(rg.sub, rg.name, "Microsoft.KeyVault", "managedHSMs", segs[7])
        d = self._deny(req, hid, "read", "Microsoft.KeyVault/managedHSMs/read")
        if d:
            return d
        v = self.w.vaults_by_id.get(id_key(hid))
        if v is None or v.deleted_at is not None or not v.hsm:
            # The spec also lists a 204 for ManagedHsms_Get; ARM answers a missing resource with
            # 404 ResourceNotFound (twin choice).
            return self._not_found("Microsoft.KeyVault/managedHSMs", segs[7], rg.name)
        return _ok(self.w.hsm_json(v, req.api_version))

    def _hsms(self, req, sub, rg_name):
        d = self._deny(req, "/subscriptions/%s%s" % (sub, "/resourceGroups/" + rg_name if rg_name else ""), "read",
                       "Microsoft.KeyVault/managedHSMs/read")
        if d:
            return d
        oid = req.token_rec.oid
        items = [v for v in self.w.vaults.values() if v.sub == sub and v.deleted_at is None and v.hsm and
                 (rg_name is None or v.rg.lower() == rg_name.lower()) and not self.w.arm_denied(oid, v.id, "read")]
        av = req.api_version
        return self._page(req, items, self.w.settings["arm_page_size"], lambda v: self.w.hsm_json(v, av))

    def r_hsms_list(self, req, t, segs, low):
        return self._hsms(req, low[1], None)

    def r_hsms_list_rg(self, req, t, segs, low):
        rg, e = self._rg(req, segs)
        return e or self._hsms(req, low[1], rg.name)

    def r_deleted_hsms_list(self, req, t, segs, low):
        d = self._deny(req, "/subscriptions/" + low[1], "read", "Microsoft.KeyVault/deletedManagedHSMs/read")
        if d:
            return d
        items = [v for v in self.w.vaults.values() if v.sub == low[1] and v.hsm and v.deleted_at is not None]
        return self._page(req, items, self.w.settings["arm_page_size"], self.w.deleted_hsm_json)

    def r_deleted_hsm_get(self, req, t, segs, low):
        for v in self.w.vaults.values():
            if v.sub == low[1] and v.hsm and v.deleted_at is not None and v.name.lower() == low[-1] and \
                    v.location.lower() == low[5]:
                return _ok(self.w.deleted_hsm_json(v))
        return err(404, "ResourceNotFound", "The Resource 'Microsoft.KeyVault/deletedManagedHSMs/%s' was not found."
                   % segs[-1])

    # --- authorization -------------------------------------------------------------------

    def _scope_of(self, segs, low):
        for i in range(len(low) - 2, -1, -1):
            if low[i] == "providers" and low[i + 1] == "microsoft.authorization":
                return "/" + "/".join(segs[:i]) if i else "/"
        return "/"

    def r_ra_list(self, req, t, segs, low):
        w = self.w
        scope = self._scope_of(segs, low)
        flt = (req.query.get("$filter") or req.qlower.get("$filter") or "").strip()
        at_scope, pid, assigned = False, None, None
        if flt:
            for term in _split_and(flt):
                tl = term.strip()
                low_t = tl.lower()
                if low_t == "atscope()":
                    at_scope = True
                elif low_t.startswith("principalid eq "):
                    pid = tl[len("principalId eq "):].strip().strip("'").lower()
                elif low_t.startswith("assignedto(") and tl.endswith(")"):
                    assigned = tl[len("assignedTo("):-1].strip().strip("'").lower()
                else:
                    return err(400, "UnsupportedQuery", "The filter '%s' is not supported. Supported filters are "
                               "either 'atScope()', 'principalId eq '{value}'' or 'assignedTo('{value}')'." % flt)
        ids = w.effective_ids(assigned) if assigned else None
        items = []
        for ra in w.role_assignments.values():
            above = scope_is_at_or_above(ra.scope, scope)
            below = scope_is_at_or_above(scope, ra.scope)
            if at_scope and not above:
                continue
            if not at_scope and not (above or below):
                continue
            if pid and ra.principal_id != pid:
                continue
            if ids is not None and ra.principal_id not in ids:
                continue
            items.append(ra)
        return self._page(req, items, w.settings["arm_page_size"], w.ra_json)

    def r_ra_get(self, req, t, segs, low):
        ra = self.w.role_assignments.get(low[-1])
        if ra is None:
            return err(404, "RoleAssignmentNotFound", "The role assignment '%s' is not found." % segs[-1])
        return _ok(self.w.ra_json(ra))

    def r_rd_get(self, req, t, segs, low):
        rd = self.w.role_defs.get(low[-1])
        if rd is None:
            return err(404, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not "
                       "exist." % segs[-1])
        return _ok(self.w.role_def_json(rd, self._scope_of(segs, low)))

    def r_rd_list(self, req, t, segs, low):
        flt = req.query.get("$filter") or ""
        items = list(self.w.role_defs.values())
        if flt:
            fl = flt.strip()
            if fl.lower().startswith("rolename eq "):
                want = fl[len("roleName eq "):].strip().strip("'").lower()
                items = [rd for rd in items if rd.name.lower() == want]
            elif fl.lower() == "type eq 'customrole'":
                items = [rd for rd in items if not rd.builtin]
            else:
                return err(400, "UnsupportedQuery", "The filter '%s' is not supported." % flt)
        scope = self._scope_of(segs, low)
        return self._page(req, items, self.w.settings["arm_page_size"], lambda rd: self.w.role_def_json(rd, scope))


def _split_and(s):
    out, cur, depth, i = [], "", 0, 0
    low = s.lower()
    while i < len(s):
        c = s[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if depth == 0 and low.startswith(" and ", i):
            out.append(cur)
            cur = ""
            i += 5
            continue
        cur += c
        i += 1
    out.append(cur)
    return out


def Response204():
    from tw_http import Response
    return Response(204, b"", arm_headers())

