#!/usr/bin/python3
# Regenerates the fuzz seed corpora in tests/fuzz/corpus/<target>/ from the decoder test
# data: the response bodies of the spec examples (tests/data/reference, tests/data/spec)
# and our own samples (tests/data/local), verbatim. Run from the repository root.
import json
import os
import sys

DATA = "tests/data"
OUT = "tests/fuzz/corpus"

# target -> spec example files (bodies of every response that has one) and local samples
TARGETS = {
    "cluster": (
        ["reference/mongocluster/2025-09-01/MongoClusters_Create_CMK.json",
         "reference/mongocluster/2025-09-01/MongoClusters_CreatePITR_CMK.json",
         "reference/mongocluster/2025-09-01/MongoClusters_CreateGeoReplica_CMK.json",
         "reference/mongocluster/2025-09-01/MongoClusters_PatchCMK.json",
         "reference/mongocluster/2025-09-01/MongoClusters_Get.json",
         "reference/mongocluster/2026-06-01/MongoClusters_Create_CMK.json",
         "reference/mongocluster/2026-06-01/MongoClusters_CreateGeoReplica_CMK.json",
         "reference/mongocluster/2026-06-01/MongoClusters_PatchCMK.json",
         "reference/mongocluster/2026-06-01/MongoClusters_List.json",
         "reference/mongocluster/2026-06-01/MongoClusters_Update.json"],
        ["local/cluster-versioned.json", "local/cluster-service-managed.json",
         "local/cluster-list-mixed.json"],
    ),
    "vault": (
        ["reference/keyvault-mgmt/2026-04-01/getVault.json",
         "spec/keyvault-mgmt/2026-02-01/createVaultWithNetworkAcls.json",
         "spec/keyvault-mgmt/2026-02-01/listVaultBySubscription.json",
         "spec/keyvault-mgmt/2026-04-01/listVault.json",
         "spec/keyvault-mgmt/2022-07-01/ManagedHsm_Get.json",
         "spec/keyvault-mgmt/2026-02-01/listDeletedVaults.json",
         "spec/keyvault-mgmt/2026-04-01/ManagedHsm_Get.json",
         "spec/keyvault-mgmt/2026-02-01/ManagedHsm_ListBySubscription.json",
         "spec/keyvault-mgmt/2026-04-01/DeletedManagedHsm_List.json"],
        ["local/vault-rbac-private.json", "local/vault-policies.json", "local/managed-hsm-full.json"],
    ),
    "arm-misc": (
        ["reference/msi/2023-01-31/IdentityGet.json",
         "reference/msi/2026-05-31/IdentityGet.json",
         "reference/authorization/2022-04-01/RoleAssignments_ListForScope.json",
         "spec/authorization/2022-04-01/RoleAssignments_ListForResourceGroup.json",
         "spec/authorization/2022-04-01/GetRoleDefinitionById.json",
         "spec/resources/2022-12-01/GetSubscriptions.json"],
        ["local/subscriptions-states.json", "local/role-assignments-mixed.json",
         "local/role-definition-custom.json", "local/operation-status-failed.json",
         "local/operation-status-running.json"],
    ),
    "key": (
        ["reference/keyvault/7.5/GetKey-example.json",
         "reference/keyvault/7.5/GetDeletedKey-example.json",
         "reference/keyvault/2025-07-01/GetDeletedKey-example.json",
         "reference/keyvault/7.6/GetKeyVersions-example.json",
         "reference/keyvault/7.6/GetKeys-example.json",
         "reference/keyvault/2025-07-01/GetKeys-example.json",
         "spec/keyvault/7.5/GetKeyVersions-example.json"],
        ["local/key-hsm-rsa3072.json", "local/key-ec.json", "local/key-versions-mixed.json"],
    ),
    "kv-misc": (
        ["reference/keyvault/7.6/GetKeyRotationPolicy-example.json",
         "spec/keyvault/7.5/ListRoleAssignments-example.json",
         "spec/keyvault/7.5/ListRoleDefinitions-example.json"],
        ["local/rotation-policy-notify-only.json", "local/rotation-policy-rotate.json",
         "local/hsm-role-assignments.json", "local/hsm-role-definitions.json"],
    ),
}


def main():
    for target, (examples, samples) in TARGETS.items():
        out = os.path.join(OUT, target)
        os.makedirs(out, exist_ok=True)
        for old in os.listdir(out):
            os.unlink(os.path.join(out, old))
        n = 0
        for rel in examples:
            with open(os.path.join(DATA, rel), encoding="utf-8") as f:
                doc = json.load(f)
            stem = rel.replace("/", "_").removesuffix(".json")
            for code, resp in sorted(doc.get("responses", {}).items()):
                if isinstance(resp, dict) and "body" in resp:
                    body = json.dumps(resp["body"], indent=1, ensure_ascii=False)
                    with open(os.path.join(out, f"{stem}-{code}.json"), "w", encoding="utf-8") as f:
                        f.write(body)
                    n += 1
        for rel in samples:
            with open(os.path.join(DATA, rel), "rb") as f:
                body = f.read()
            with open(os.path.join(out, rel.replace("/", "_")), "wb") as f:
                f.write(body)
            n += 1
        print(f"{target}: {n} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
