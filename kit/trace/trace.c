/*
 * trace.c - the one translation unit that holds the tracer's code in kit
 * builds (graded, traced and timeline builds). See trace.h.
 */
#define _POSIX_C_SOURCE 200809L
#define TL_TRACE_IMPLEMENTATION
#include "trace.h"
