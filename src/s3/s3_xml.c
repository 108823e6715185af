/*
 * s3_xml.c: XML output and small text codecs for the S3 service.
 *
 * Why hand-written: S3 responses are small, flat documents; producing
 * them needs only careful escaping, which lives here in one place (and is
 * unit-tested) so no handler ever concatenates unescaped text. Parsing XML
 * request bodies is NOT done here (libxml2, see s3.c).
 *
 * Invariants: a buffer never exceeds S3_XBUF_MAX; after the first failed
 * allocation a buffer is "oom" and every later write is ignored; output
 * is NUL-terminated whenever not oom.
 */
#include "s3/s3_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/gtutil.h"

static bool grow(s3_xbuf *b, size_t add)
{
    if (b->oom)
        return false;
    if (add > S3_XBUF_MAX || b->n + add + 1 > S3_XBUF_MAX) {
        b->oom = true;
        return false;
    }
    size_t need = b->n + add + 1;
    if (need <= b->cap)
        return true;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < need)
        nc *= 2;
    if (nc > S3_XBUF_MAX)
        nc = S3_XBUF_MAX;
    char *np = realloc(b->p, nc);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = nc;
    return true;
}

void s3x_raw(s3_xbuf *b, const char *s, size_t n)
{
    if (!grow(b, n))
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void s3x_str(s3_xbuf *b, const char *s)
{
    s3x_raw(b, s, strlen(s));
}

void s3x_text(s3_xbuf *b, const char *s, size_t n)
{
    size_t run = 0;   /* start of the pending run of plain bytes */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *ent = NULL;
        char num[8];
        switch (c) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&apos;"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(num, sizeof num, "&#x%X;", c);
                ent = num;
            }
        }
        if (!ent)
            continue;
        s3x_raw(b, s + run, i - run);
        s3x_str(b, ent);
        run = i + 1;
    }
    s3x_raw(b, s + run, n - run);
}

void s3x_elem(s3_xbuf *b, const char *name, const char *text)
{
    if (!text)
        return;
    s3x_str(b, "<");
    s3x_str(b, name);
    s3x_str(b, ">");
    s3x_text(b, text, strlen(text));
    s3x_str(b, "</");
    s3x_str(b, name);
    s3x_str(b, ">");
}

char *s3x_take(s3_xbuf *b, size_t *len)
{
    char *p = NULL;
    if (!b->oom) {
        p = b->p ? b->p : strdup("");
        if (len)
            *len = p ? b->n : 0;
    } else {
        free(b->p);
        if (len)
            *len = 0;
    }
    b->p = NULL;
    b->n = b->cap = 0;
    b->oom = false;
    return p;
}

void s3x_free(s3_xbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
    b->oom = false;
}

char *s3_pct_decode(const char *s, size_t n, bool plus_is_space)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3) {   /* needs s[i+1] and s[i+2] */
                free(out);
                return NULL;
            }
            int hi = gt_hexval(s[i + 1]), lo = gt_hexval(s[i + 2]);
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0') {
            free(out);
            return NULL;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

void s3x_url_encode(s3_xbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~' || c == '/') {
            char ch = (char)c;
            s3x_raw(b, &ch, 1);
        } else if (c == ' ') {
            s3x_raw(b, "+", 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            s3x_raw(b, e, 3);
        }
    }
}
