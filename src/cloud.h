/* SPDX-License-Identifier: MIT */
#pragma once

/* Azure clouds: the endpoints cmkd talks to in the public cloud and the sovereign clouds
 * (reference README §6.4), each overridable in [Azure]. Pure data, no I/O. */

#include "macro.h"

/* Endpoints of one Azure cloud, after the preset and any override. Every string is owned
 * by the struct (cloud_done() frees them). Endpoint URLs carry no trailing slash.
 * Audiences: arm_audience always ends in '/' (it is the IMDS "resource"; the Entra scope
 * is arm_audience + ".default"); vault_audience and hsm_audience never do (scope is
 * audience + "/.default"). This follows what each service's token issuer is asked for in
 * the reference (§2, §6.1, §6.4). */
struct cloud {
        char *name;            /* "AzurePublicCloud", "AzureChinaCloud", "AzureUSGovernment" */
        char *arm_endpoint;    /* "https://management.azure.com" */
        char *arm_audience;    /* "https://management.azure.com/" (IMDS resource; scope adds ".default") */
        char *authority_host;  /* "https://login.microsoftonline.com" */
        char **vault_suffixes; /* strv: "vault.azure.net" */
        char *vault_audience;  /* "https://vault.azure.net" */
        char **hsm_suffixes;   /* strv: "managedhsm.azure.net" */
        char *hsm_audience;    /* "https://managedhsm.azure.net" */
        char *imds_endpoint;   /* "http://169.254.169.254" */
};

/* Fills *ret with a copy of the preset called name (case-insensitive; "AzureCloud" is
 * accepted for the public cloud, as the Azure CLI names it). *ret.name gets the canonical
 * name. Returns 0, -ENOENT for an unknown name, -ENOMEM (*ret untouched on failure). */
int cloud_preset(const char *name, struct cloud *ret);
/* The canonical name of a preset for name (as above), or NULL if unknown. Static string. */
const char *cloud_preset_canonical(const char *name);
/* "AzurePublicCloud, AzureChinaCloud, AzureUSGovernment": for error messages. */
#define CLOUD_PRESET_NAMES "AzurePublicCloud, AzureChinaCloud, AzureUSGovernment"
/* Deep copy. Returns 0 or -ENOMEM (*ret untouched on failure). */
int cloud_copy(const struct cloud *c, struct cloud *ret);
/* Frees every member and zeroes *c. Accepts a zeroed struct. */
void cloud_done(struct cloud *c);
