# Helpers shared by the twin's own unittests: one test CA per test process (mkca.sh runs
# once), scenario loading with settings overrides, and small assertion helpers.

import atexit
import copy
import json
import os
import shutil
import subprocess
import tempfile

from twinlib import Twin

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios")
_PKI = None

ARM = "https://management.azure.com"
SUB = "11111111-1111-1111-1111-111111111111"
SUB_DEV = "22222222-2222-2222-2222-222222222222"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
RG = "rg-data"
UAMI_A = "/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-a" \
    % SUB
UAMI_B = UAMI_A.replace("uami-a", "uami-b")
CL_API = "api-version=2025-09-01"


def pki_dir():
    global _PKI
    if _PKI is None:
        _PKI = tempfile.mkdtemp(prefix="twin-test-pki-")
        subprocess.run(["/bin/sh", os.path.join(HERE, "mkca.sh"), _PKI], check=True)
        atexit.register(shutil.rmtree, _PKI, True)
    return _PKI


def scenario(name, **settings):
    with open(os.path.join(SCENARIOS, name)) as f:
        sc = json.load(f)
    if settings:
        sc = copy.deepcopy(sc)
        sc.setdefault("settings", {}).update(settings)
    return sc


def start(sc, **kw):
    """A Twin on a scenario (file name in scenarios/ or a dict) with the shared test CA."""
    if isinstance(sc, str) and not os.path.sep in sc:
        sc = scenario(sc)
    return Twin(sc, pki=pki_dir(), **kw)


def cluster_url(name, rg=RG, sub=SUB, api=CL_API):
    return "%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.DocumentDB/mongoClusters/%s?%s" % (
        ARM, sub, rg, name, api)


def cmk_body(identity_id, key_url, location="westus2"):
    return {"location": location,
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity_id: {}}},
            "properties": {"encryption": {"customerManagedKeyEncryption": {
                "keyEncryptionKeyIdentity": {"identityType": "UserAssignedIdentity",
                                             "userAssignedIdentityResourceId": identity_id},
                "keyEncryptionKeyUrl": key_url}}}}
