/*
 * names: printable names of policy enums, shared by rulec, explain output and audit.
 */
#include "policy.h"

const char *rg_verdict_name(enum rg_verdict v)
{
	switch (v) {
	case RG_VERDICT_ALLOW:
		return "allow";
	case RG_VERDICT_LOG:
		return "log";
	case RG_VERDICT_HOLD:
		return "hold";
	case RG_VERDICT_DENY:
		return "deny";
	}
	return "?";
}
