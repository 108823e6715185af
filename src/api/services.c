/*
 * services.c: the list of services one port serves, by SigV4 signing name.
 * Adding a service is one line here plus its module's `gt_service`.
 */
#include <string.h>

#include "api/service.h"

extern const gt_service gg_service;
extern const gt_service ct_service;
extern const gt_service s3_service;
extern const gt_service ev_service;
extern const gt_service iam_service;
extern const gt_service sts_service;
extern const gt_service sns_service;
extern const gt_service org_service;

static const gt_service *const services[] = {
    &gg_service,
    &ct_service,
    &s3_service,
    &ev_service,
    &iam_service,
    &sts_service,
    &sns_service,
    &org_service,
};

const gt_service *gt_service_for(const char *signing_name)
{
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (strcmp(services[i]->signing_name, signing_name) == 0)
            return services[i];
    return NULL;
}

gt_handler gt_op_handler_find(const gt_op_handler *tab, size_t n, const char *op)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].op, op) == 0)
            return tab[i].h;
    return NULL;
}
