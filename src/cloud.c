/* SPDX-License-Identifier: MIT */
/* Cloud presets: the ARM, Entra, Key Vault, Managed HSM and IMDS endpoints of each Azure
 * cloud. Sources: reference README §6.4 (Azure SDK for Go cloud.go, Azure CLI cloud
 * definitions); Managed HSM in Azure China from the Azure CLI ("managedhsm.azure.cn").
 * Pure data: no I/O, nothing here decides which cloud is used (conf.c does). */

#include "cloud.h"
#include "mem.h"
#include "strv.h"

static const struct preset {
        const char *name;
        const char *alias;
        const char *arm_endpoint, *arm_audience, *authority_host;
        const char *vault_suffix, *vault_audience;
        const char *hsm_suffix, *hsm_audience;
} presets[] = {
        {
                .name = "AzurePublicCloud",
                .alias = "AzureCloud",
                .arm_endpoint = "https://management.azure.com",
                .arm_audience = "https://management.azure.com/",
                .authority_host = "https://login.microsoftonline.com",
                .vault_suffix = "vault.azure.net",
                .vault_audience = "https://vault.azure.net",
                .hsm_suffix = "managedhsm.azure.net",
                .hsm_audience = "https://managedhsm.azure.net",
        },
        {
                .name = "AzureChinaCloud",
                .arm_endpoint = "https://management.chinacloudapi.cn",
                .arm_audience = "https://management.chinacloudapi.cn/",
                .authority_host = "https://login.chinacloudapi.cn",
                .vault_suffix = "vault.azure.cn",
                .vault_audience = "https://vault.azure.cn",
                .hsm_suffix = "managedhsm.azure.cn",
                .hsm_audience = "https://managedhsm.azure.cn",
        },
        {
                .name = "AzureUSGovernment",
                .arm_endpoint = "https://management.usgovcloudapi.net",
                .arm_audience = "https://management.usgovcloudapi.net/",
                .authority_host = "https://login.microsoftonline.us",
                .vault_suffix = "vault.usgovcloudapi.net",
                .vault_audience = "https://vault.usgovcloudapi.net",
                .hsm_suffix = "managedhsm.usgovcloudapi.net",
                .hsm_audience = "https://managedhsm.usgovcloudapi.net",
        },
};

/* IMDS has the same link-local address in every cloud. */
#define IMDS_ENDPOINT "http://169.254.169.254"

static const struct preset *preset_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(presets); i++)
                if (strcasecmp(name, presets[i].name) == 0 ||
                    (presets[i].alias && strcasecmp(name, presets[i].alias) == 0))
                        return &presets[i];
        return NULL;
}

const char *cloud_preset_canonical(const char *name) {
        const struct preset *p = preset_find(name);

        return p ? p->name : NULL;
}

static int strv_one(const char *s, char ***ret) {
        _cleanup_strv_free_ char **l = new0(char *, 1);

        if (!l || strv_extend(&l, s) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

int cloud_preset(const char *name, struct cloud *ret) {
        const struct preset *p = preset_find(name);
        struct cloud c = {};

        if (!p)
                return -ENOENT;
        c.name = mem_strdup(p->name);
        c.arm_endpoint = mem_strdup(p->arm_endpoint);
        c.arm_audience = mem_strdup(p->arm_audience);
        c.authority_host = mem_strdup(p->authority_host);
        c.vault_audience = mem_strdup(p->vault_audience);
        c.hsm_audience = mem_strdup(p->hsm_audience);
        c.imds_endpoint = mem_strdup(IMDS_ENDPOINT);
        if (!c.name || !c.arm_endpoint || !c.arm_audience || !c.authority_host || !c.vault_audience ||
            !c.hsm_audience || !c.imds_endpoint || strv_one(p->vault_suffix, &c.vault_suffixes) < 0 ||
            strv_one(p->hsm_suffix, &c.hsm_suffixes) < 0) {
                cloud_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

int cloud_copy(const struct cloud *from, struct cloud *ret) {
        struct cloud c = {};
        bool oom = false;

#define DUP(f)                                                                                              \
        do {                                                                                                \
                if (from->f && !(c.f = mem_strdup(from->f)))                                                \
                        oom = true;                                                                         \
        } while (0)
#define DUPV(f)                                                                                             \
        do {                                                                                                \
                if (from->f && !(c.f = strv_copy(from->f)))                                                 \
                        oom = true;                                                                         \
        } while (0)
        DUP(name);
        DUP(arm_endpoint);
        DUP(arm_audience);
        DUP(authority_host);
        DUPV(vault_suffixes);
        DUP(vault_audience);
        DUPV(hsm_suffixes);
        DUP(hsm_audience);
        DUP(imds_endpoint);
#undef DUP
#undef DUPV
        if (oom) {
                cloud_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

void cloud_done(struct cloud *c) {
        if (!c)
                return;
        mem_free(c->name);
        mem_free(c->arm_endpoint);
        mem_free(c->arm_audience);
        mem_free(c->authority_host);
        strv_free(c->vault_suffixes);
        mem_free(c->vault_audience);
        strv_free(c->hsm_suffixes);
        mem_free(c->hsm_audience);
        mem_free(c->imds_endpoint);
        *c = (struct cloud){};
}
