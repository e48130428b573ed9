# The Key Vault keys data plane as the twin serves it, for vaults and Managed HSMs:
# challenge authentication (401 with WWW-Authenticate), api-version checks, the firewall,
# RBAC, access-policy or (HSM) local RBAC authorization, and key reads (key, versions, keys,
# rotation policy, deleted keys) plus wrapKey/unwrapKey; an HSM also serves its local role
# assignments and definitions. Errors use the KeyVaultError shape with innererror codes.

import uuid

from tw_common import API_VERSIONS, CLOUDS, DATA_KEY_READ, DATA_KEY_UNWRAP, DATA_KEY_WRAP, DATA_ROTATION_READ, \
    HSM_DELETED_KEY_READ, HSM_RA_READ, HSM_RD_READ, b64url, b64url_decode, det_bytes, hsm_scope_covers, \
    hsm_scope_norm
from tw_http import Response, json_response

SERVICE_VERSION = "1.9.2250.1"


class Kv:
    def __init__(self, world):
        self.w = world

    def headers(self, req, v):
        h = [("Cache-Control", "no-cache"), ("Pragma", "no-cache"), ("Expires", "-1"),
             ("x-ms-keyvault-region", v.location if v else "westus2"),
             ("x-ms-request-id", str(uuid.uuid4())),
             ("x-ms-keyvault-service-version", SERVICE_VERSION),
             ("x-ms-keyvault-network-info", "conn_type=Ipv4;addr=%s;act_addr_fam=InterNetwork;" % req.peer),
             ("Strict-Transport-Security", "max-age=31536000;includeSubDomains"),
             ("X-Content-Type-Options", "nosniff")]
        crid = req.header("x-ms-client-request-id")
        if crid:
            h.append(("x-ms-client-request-id", crid))
        return h

    def err(self, req, v, status, code, message, inner=None, extra=None):
        e = {"code": code, "message": message}
        if inner:
            e["innererror"] = {"code": inner}
        return json_response(status, {"error": e}, self.headers(req, v) + list(extra or []))

    def challenge(self, req, v, cloud, message):
        c = CLOUDS[cloud]
        aud = c["hsm_audience"] if v.hsm else c["vault_audience"]
        login = c["login_hosts"][-1] if cloud == "AzurePublicCloud" else c["login_hosts"][0]
        www = 'Bearer authorization="https://%s/%s", resource="%s"' % (login, v.tenant_id, aud)
        return self.err(req, v, 401, "Unauthorized", message, extra=[("WWW-Authenticate", www)])

    def handle(self, req, t):
        w = self.w
        v = w.vaults.get(req.host)
        if v is None or v.deleted_at is not None:
            # No such vault: in Azure the name does not resolve. The closest a loopback
            # twin can do is to drop the connection without an answer.
            r = Response(0)
            r.mode = "close"
            req.log_extra["vault_missing"] = True
            return r
        # authentication first: the SDKs send their first request without a token
        auth = req.header("Authorization")
        if not auth:
            return self.challenge(req, v, req.cloud, "AKV10000: Request is missing a Bearer or PoP token.")
        parts = auth.split(None, 1)
        if len(parts) != 2 or parts[0].lower() not in ("bearer", "pop"):
            return self.challenge(req, v, req.cloud, "AKV10000: Request is missing a Bearer or PoP token.")
        rec = w.tokens.get(parts[1].strip())
        if rec is None or rec.revoked:
            return self.challenge(req, v, req.cloud, "AKV10021: Invalid token signature: the token was not issued "
                                                     "by this twin or was revoked.")
        req.token_rec = rec
        p = w.principals_by_name.get(rec.principal)
        req.principal = p
        want = "hsm" if v.hsm else "kv"
        if rec.kind != want or rec.cloud != v.cloud:
            aud = CLOUDS[v.cloud]["hsm_audience" if v.hsm else "vault_audience"]
            return self.challenge(req, v, req.cloud, "AKV10022: Invalid audience. Expected %s, found: %s."
                                  % (aud, rec.aud))
        if rec.tid != v.tenant_id:
            return self.challenge(req, v, req.cloud, "AKV10032: Invalid issuer. Expected one of "
                                  "https://sts.windows.net/%s/, found https://sts.windows.net/%s/."
                                  % (v.tenant_id, rec.tid))
        if rec.exp <= t:
            return self.challenge(req, v, req.cloud, "Token expired: the access token expired at %d (twin time "
                                  "now %d)." % (rec.exp, int(t)))
        if p is None or p.disabled:
            return self.challenge(req, v, req.cloud, "AKV10021: Invalid token: the principal is disabled.")
        # api-version
        av = req.api_version
        supported = w.settings["api_versions"].get("keyvault", API_VERSIONS["keyvault"])
        if not av:
            return self.err(req, v, 400, "BadParameter", "The api-version parameter is missing.")
        if av not in supported:
            return self.err(req, v, 400, "BadParameter", "The specified version (%s) is not recognized. Consider "
                            "using the latest supported version (%s)." % (av, supported[-1]))
        # network
        ip = w.settings.get("client_ip") or req.peer
        nw = w.kv_network(v, p, ip)
        if nw is not None:
            return self.err(req, v, 403, "Forbidden", nw[1], inner=nw[0])
        segs = [s for s in req.path.split("/")]
        # '/keys/name/' keeps an empty last segment: "latest version"
        segs = segs[1:]
        return self.route(req, t, v, p, segs)

    def forbidden(self, req, v, p, perm, action, key_name=None, scope=None):
        caller = "appid=%s;oid=%s;iss=https://sts.windows.net/%s/" % (p.client_id, p.object_id, p.tenant_id)
        if v.hsm:
            # Same shape as a vault's ForbiddenByRbac, with the HSM's data action and local scope
            # (twin choice: the HSM's exact text is not published).
            from tw_world import HSM_ACTION
            res = scope or ("/keys/" + key_name.lower() if key_name else "/keys")
            return self.err(req, v, 403, "Forbidden", "Caller is not authorized to perform action on resource.\r\n"
                            "If role assignments, deny assignments or role definitions were changed recently, please "
                            "observe propagation time.\r\nCaller: %s\r\nAction: '%s'\r\nResource: '%s'\r\n"
                            "Assignment: (not found)\r\nDecisionReason: null \r\nManagedHsm: %s;location=%s\r\n"
                            % (caller, HSM_ACTION.get(action, action), res, v.name, v.location),
                            inner="ForbiddenByRbac")
        if v.rbac:
            res = "/subscriptions/%s/resourcegroups/%s/providers/microsoft.keyvault/vaults/%s%s" % (
                v.sub, v.rg.lower(), v.name.lower(), "/keys/" + key_name.lower() if key_name else "")
            return self.err(req, v, 403, "Forbidden", "Caller is not authorized to perform action on resource.\r\n"
                            "If role assignments, deny assignments or role definitions were changed recently, please "
                            "observe propagation time.\r\nCaller: %s\r\nAction: '%s'\r\nResource: '%s'\r\n"
                            "Assignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\n"
                            "Vault: %s;location=%s\r\n" % (caller, action, res, v.name, v.location),
                            inner="ForbiddenByRbac")
        return self.err(req, v, 403, "Forbidden", "The user, group or application '%s' does not have keys %s "
                        "permission on key vault '%s;location=%s'. For help resolving this issue, please see "
                        "https://go.microsoft.com/fwlink/?linkid=2125287" % (caller, perm, v.name, v.location),
                        inner="AccessDenied")

    def _auth(self, req, v, p, action, perms, key_name=None):
        if self.w.kv_granted(v, p.object_id, p.tenant_id, action, perms, key_name):
            return None
        return self.forbidden(req, v, p, perms[0], action, key_name)

    def not_found(self, req, v, name):
        return self.err(req, v, 404, "KeyNotFound", "A key with (name/id) %s was not found in this key vault. If you "
                        "recently deleted this key you may be able to recover it using the correct recovery "
                        "command. For help resolving this issue, please see "
                        "https://go.microsoft.com/fwlink/?linkid=2125182" % name)

    def _page_args(self, req, v):
        mr = req.qlower.get("maxresults")
        size = self.w.settings["kv_page_size"]
        if mr is not None:
            try:
                size = int(mr)
            except ValueError:
                return None, None, self.err(req, v, 400, "BadParameter", "The value '%s' of maxresults is not an "
                                            "integer." % mr)
            if not 1 <= size <= 25:
                return None, None, self.err(req, v, 400, "BadParameter", "maxresults must be between 1 and 25 "
                                            "(got %s)." % mr)
        tok = req.query.get("$skiptoken") or req.qlower.get("$skiptoken")
        start = 0
        if tok:
            try:
                start = int(b64url_decode(tok).decode().split(":", 1)[1])
            except (ValueError, IndexError, UnicodeDecodeError):
                return None, None, self.err(req, v, 400, "BadParameter", "The skip token is not valid.")
        return start, size, None

    def _paged(self, req, v, items, render, start, size, path):
        chunk = items[start:start + size]
        body = {"value": [render(x) for x in chunk], "nextLink": None}
        if start + size < len(items):
            tok = b64url(("o:%d" % (start + size)).encode())
            mr = "&maxresults=%d" % size if req.qlower.get("maxresults") else ""
            body["nextLink"] = "https://%s:443%s?api-version=%s&$skiptoken=%s%s" % (v.host, path, req.api_version,
                                                                                  tok, mr)
        return json_response(200, body, self.headers(req, v))

    def route(self, req, t, v, p, segs):
        w = self.w
        m = req.method
        low = [x.lower() for x in segs]
        if v.hsm and "providers" in low:
            return self._rbac(req, t, v, p, segs, low)
        n = len(segs)
        if n >= 1 and segs[0] == "keys":
            if n == 1 or (n == 2 and segs[1] == ""):
                if m != "GET":
                    return self._bad_method(req, v)
                e = self._auth(req, v, p, DATA_KEY_READ, ("list",))
                if e:
                    return e
                start, size, e = self._page_args(req, v)
                if e:
                    return e
                items = [k for k in v.keys.values() if k.versions]
                return self._paged(req, v, items, lambda k: w.key_item(v, k, k.latest(), False), start, size, "/keys")
            name = segs[1]
            k = v.keys.get(name.lower())
            rest = segs[2:]
            if rest in ([], [""]):
                if m != "GET":
                    return self._bad_method(req, v)
                return self._get_key(req, v, p, k, name, None)
            if rest == ["versions"] or rest == ["versions", ""]:
                if m != "GET":
                    return self._bad_method(req, v)
                e = self._auth(req, v, p, DATA_KEY_READ, ("list",), name)
                if e:
                    return e
                if k is None:
                    return self.not_found(req, v, name)
                start, size, e = self._page_args(req, v)
                if e:
                    return e
                # Listed in version-id order, not creation order: clients must not take the
                # last item for the current version (twin choice; Key Vault promises no order).
                items = sorted(k.versions, key=lambda kv: kv.version)
                return self._paged(req, v, items, lambda kv: w.key_item(v, k, kv, True), start, size,
                                   "/keys/%s/versions" % k.name)
            if rest == ["rotationpolicy"]:
                if m != "GET":
                    return self._bad_method(req, v)
                e = self._auth(req, v, p, DATA_ROTATION_READ, ("getrotationpolicy", "get"), name)
                if e:
                    return e
                if k is None:
                    return self.not_found(req, v, name)
                return json_response(200, w.rotation_policy_json(v, k), self.headers(req, v))
            if len(rest) == 1 and rest[0].lower() in ("wrapkey", "unwrapkey") and m == "POST":
                return self._crypto(req, v, p, k, name, None, rest[0].lower())
            if len(rest) == 2 and rest[1].lower() in ("wrapkey", "unwrapkey") and m == "POST":
                return self._crypto(req, v, p, k, name, rest[0], rest[1].lower())
            if len(rest) == 1 or (len(rest) == 2 and rest[1] == ""):
                if m != "GET":
                    return self._bad_method(req, v)
                return self._get_key(req, v, p, k, name, rest[0])
        if n >= 1 and segs[0] == "deletedkeys":
            if m != "GET":
                return self._bad_method(req, v)
            if n == 1 or (n == 2 and segs[1] == ""):
                e = self._auth(req, v, p, HSM_DELETED_KEY_READ if v.hsm else DATA_KEY_READ, ("list",))
                if e:
                    return e
                start, size, e = self._page_args(req, v)
                if e:
                    return e
                items = list(v.deleted_keys.values())
                return self._paged(req, v, items, lambda k: self._deleted_item(v, k), start, size, "/deletedkeys")
            name = segs[1]
            e = self._auth(req, v, p, HSM_DELETED_KEY_READ if v.hsm else DATA_KEY_READ, ("get", "list"), name)
            if e:
                return e
            k = v.deleted_keys.get(name.lower())
            if k is None or not k.versions:
                return self.err(req, v, 404, "KeyNotFound", "Deleted Key not found: %s" % name)
            return json_response(200, w.key_bundle(v, k, k.latest(), req.api_version, deleted=True),
                                 self.headers(req, v))
        return self.err(req, v, 400, "BadParameter", "Method %s does not allow operation '%s'" % (
            m, "/".join(segs)))

    # --- Managed HSM local RBAC (data-plane rbac.json) ------------------------------------

    def _rbac(self, req, t, v, p, segs, low):
        """{scope}/providers/Microsoft.Authorization/roleAssignments[/{name}] and
        .../roleDefinitions[/{name}], scope '/' (also written '' or '//'), 'keys' or 'keys/{name}'."""
        w = self.w
        i = low.index("providers")
        rest = [x for x in low[i + 1:]]
        scope = hsm_scope_norm("/".join(x for x in segs[:i] if x))
        if scope is None or len(rest) < 2 or rest[0] != "microsoft.authorization" or \
                rest[1] not in ("roleassignments", "roledefinitions") or len(rest) > 3 or \
                any(x == "" for x in segs[i:]):
            return self.err(req, v, 400, "BadParameter", "The request URI is not a valid Managed HSM role "
                            "assignment or role definition path.")
        if req.method != "GET":
            return self._bad_method(req, v)
        ras = rest[1] == "roleassignments"
        action = HSM_RA_READ if ras else HSM_RD_READ
        if not w.hsm_granted(v, p.object_id, action, scope):
            return self.forbidden(req, v, p, None, action, scope=scope)
        if len(rest) == 3:
            name = segs[i + 3].lower()
            if ras:
                ra = v.local_ras.get(name)
                if ra is None or ra.scope != scope:
                    return self.err(req, v, 404, "RoleAssignmentNotFound", "Requested role assignment not found "
                                    "(Activity ID: %s)." % name)
                return json_response(200, w.hsm_ra_json(ra), self.headers(req, v))
            rd = w.hsm_role_def(v, name)
            if rd is None:
                return self.err(req, v, 404, "RoleDefinitionNotFound", "Requested role definition not found.")
            return json_response(200, w.hsm_rd_json(rd), self.headers(req, v))
        flt = (req.query.get("$filter") or req.qlower.get("$filter") or "").strip()
        start, size, e = self._page_args(req, v)
        if e:
            return e
        path = "%s/providers/Microsoft.Authorization/%s" % ("" if scope == "/" else scope,
                                                             "roleAssignments" if ras else "roleDefinitions")
        if not ras:
            items = list(v.local_roles.values())
            from tw_world import HSM_BUILTIN_DEFS
            items += list(HSM_BUILTIN_DEFS.values())
            if flt:
                fl = flt.lower()
                if fl.startswith("rolename eq "):
                    want = flt[len("roleName eq "):].strip().strip("'").lower()
                    items = [rd for rd in items if rd.name.lower() == want]
                else:
                    return self.err(req, v, 400, "BadParameter", "The filter '%s' is not supported." % flt)
            return self._paged(req, v, items, w.hsm_rd_json, start, size, path)
        at_scope, pid = False, None
        if flt:
            for term in flt.split(" and "):
                tl = term.strip()
                if tl.lower() == "atscope()":
                    at_scope = True
                elif tl.lower().startswith("principalid eq "):
                    pid = tl[len("principalId eq "):].strip().strip("'").lower()
                else:
                    return self.err(req, v, 400, "BadParameter", "The filter '%s' is not supported. Use "
                                    "'atScope()' or 'principalId eq {id}'." % flt)
        items = []
        for ra in v.local_ras.values():
            above, below = hsm_scope_covers(ra.scope, scope), hsm_scope_covers(scope, ra.scope)
            if (at_scope and not above) or not (above or below):
                continue
            if pid and ra.principal_id != pid:
                continue
            items.append(ra)
        return self._paged(req, v, items, w.hsm_ra_json, start, size, path)

    def _deleted_item(self, v, k):
        d = self.w.key_item(v, k, k.latest(), False)
        d["recoveryId"] = "https://%s/deletedkeys/%s" % (v.host, k.name)
        d["deletedDate"] = k.deleted_at
        d["scheduledPurgeDate"] = k.deleted_at + v.retention_days * 86400
        return d

    def _bad_method(self, req, v):
        return self.err(req, v, 405, "BadParameter", "The requested method %s is not allowed on this resource."
                        % req.method)

    def _get_key(self, req, v, p, k, name, version):
        w = self.w
        e = self._auth(req, v, p, DATA_KEY_READ, ("get",), name)
        if e:
            return e
        if k is None:
            return self.not_found(req, v, name)
        kv = k.find_version(version) if version else k.latest()
        if kv is None:
            return self.not_found(req, v, "%s/%s" % (name, version))
        if not kv.enabled and w.settings["disabled_key_get"] == "forbidden":
            return self.err(req, v, 403, "Forbidden", "Operation get is not allowed on a disabled key.",
                            inner="KeyDisabled")
        return json_response(200, w.key_bundle(v, k, kv, req.api_version), self.headers(req, v))

    def _crypto(self, req, v, p, k, name, version, op):
        action, perm = (DATA_KEY_WRAP, "wrapKey") if op == "wrapkey" else (DATA_KEY_UNWRAP, "unwrapKey")
        e = self._auth(req, v, p, action, (perm,), name)
        if e:
            return e
        if k is None:
            return self.not_found(req, v, name)
        kv = k.find_version(version) if version else k.latest()
        if kv is None:
            return self.not_found(req, v, "%s/%s" % (name, version))
        if not kv.enabled:
            return self.err(req, v, 403, "Forbidden", "Operation %s is not allowed on a disabled key." % perm,
                            inner="KeyDisabled")
        t = self.w.now()
        if (kv.exp is not None and kv.exp <= t) or (kv.nbf is not None and kv.nbf > t):
            return self.err(req, v, 403, "Forbidden", "Operation %s is not allowed on an expired or not yet valid "
                            "key." % perm, inner="KeyExpired")
        if not any(o.lower() == perm.lower() for o in k.key_ops):
            return self.err(req, v, 403, "Forbidden", "Operation %s is not permitted on this key." % perm,
                            inner="KeyOperationForbidden")
        try:
            body = req.json_body()
            alg, value = body["alg"], body["value"]
            raw = b64url_decode(value)
        except (ValueError, KeyError, TypeError):
            return self.err(req, v, 400, "BadParameter", "The request body must be {\"alg\": ..., \"value\": "
                            "base64url}.")
        if alg not in ("RSA-OAEP", "RSA-OAEP-256", "RSA1_5"):
            return self.err(req, v, 400, "BadParameter", "Invalid algorithm '%s' for key type %s." % (alg, k.kty))
        pad = det_bytes(16, "wrap", v.host, k.name, kv.version)
        if op == "wrapkey":
            out = pad + raw
        else:
            if not raw.startswith(pad):
                return self.err(req, v, 400, "BadParameter", "The value could not be unwrapped with this key "
                                "version.")
            out = raw[len(pad):]
        return json_response(200, {"kid": "https://%s/keys/%s/%s" % (v.host, k.name, kv.version),
                                   "value": b64url(out)}, self.headers(req, v))
