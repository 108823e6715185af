/* console_assets.h: the console's static files, embedded at build time.
 *
 * tools/embed_assets.py turns every file under console/ into one entry of
 * console_assets[] (console_assets.gen.c in the build dir, never edited by
 * hand), so the binary serves the UI with no files on disk. */
#ifndef GT_CONSOLE_ASSETS_H
#define GT_CONSOLE_ASSETS_H

#include <stddef.h>

typedef struct console_asset {
    const char *path;          /* relative to console/: "index.html", "app.js" */
    const char *content_type;  /* "text/html; charset=utf-8", ... */
    const unsigned char *data;
    size_t len;
} console_asset;

extern const console_asset console_assets[];
extern const size_t console_n_assets;

#endif
