/*
 * lexing.h: the check behind RG_OP_SET_LEXING (lexing.c), internal to the policy module.
 */
#ifndef RG_POLICY_LEXING_H
#define RG_POLICY_LEXING_H

#include <stdbool.h>

/* Whether the NUL-terminated sql changes client_encoding, standard_conforming_strings,
 * backslash_quote or escape_string_warning away from the gateway's pinned session values.
 * True also when it cannot tell (fail closed). Parses sql again: call only when the facts
 * show a SET, a set_config() call or a write to pg_settings; on a big stack for big input. */
bool rg_sqllex_changes(const char *sql);

#endif
