/* s3_xml.h: writing S3's XML responses, and the small text codecs S3
 * needs (percent-decoding of paths and queries, encoding-type=url).
 *
 * s3_xbuf is a growable byte buffer; after an allocation failure it stays
 * failed (oom) and ignores further writes, so callers check once at the
 * end. Every text written with s3x_text/s3x_elem is XML-escaped. */
#ifndef GT_S3_XML_H
#define GT_S3_XML_H

#include <stdbool.h>
#include <stddef.h>

#define S3_XML_NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define S3_XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_XBUF_MAX ((size_t)256 * 1024 * 1024)   /* hard cap of one buffer */

typedef struct s3_xbuf {
    char *p;        /* NUL-terminated when not oom */
    size_t n, cap;
    bool oom;
} s3_xbuf;

/* Append n raw bytes. */
void s3x_raw(s3_xbuf *b, const char *s, size_t n);
/* Append a raw NUL-terminated string. */
void s3x_str(s3_xbuf *b, const char *s);
/* Append s[0..n) XML-escaped: & < > " ' as entities; TAB, LF, CR and the
 * other C0 control characters as numeric character references (as S3
 * does for keys); everything else (UTF-8 included) as is. */
void s3x_text(s3_xbuf *b, const char *s, size_t n);
/* <name>escaped text</name>; text NULL writes nothing. */
void s3x_elem(s3_xbuf *b, const char *name, const char *text);
/* Take the buffer (malloc'd, NUL-terminated); NULL when oom. Resets b. */
char *s3x_take(s3_xbuf *b, size_t *len);
void s3x_free(s3_xbuf *b);

/* Percent-decode s[0..n) into a new NUL-terminated string; '+' becomes a
 * space when plus_is_space. NULL on malformed escapes, embedded NUL or
 * allocation failure. */
char *s3_pct_decode(const char *s, size_t n, bool plus_is_space);

/* S3's encoding-type=url form of s into b: unreserved characters and '/'
 * as is, space as '+', every other byte %XX (upper-case hex). */
void s3x_url_encode(s3_xbuf *b, const char *s);

#endif
