/*
 * admin-int.h: what the admin module's files share and nobody else sees -- the page's files,
 * compiled in from engine/admin/page/ by embed.cmake at build time (page.c in the build
 * tree), so the binary serves them without reading the disk and a page edit needs no tool
 * beyond CMake.
 */
#ifndef RG_ADMIN_INT_H
#define RG_ADMIN_INT_H

#include <stddef.h>

struct rg_admin_file {
	const char *name; /* "index.html", "app.js", "app.css" */
	const unsigned char *data;
	size_t len;
};

/* NULL when there is no such file. */
const struct rg_admin_file *rg_admin_page_file(const char *name);

#endif
