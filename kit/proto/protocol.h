/*
 * protocol.h - the grading protocol as C names, generated from protocol.def.
 *
 * What it shows: one definition that both ends of the grader's channel include,
 * in the manner of Check's check_pack.c, which packs and unpacks side by side.
 * The test child writes tags with tl_tag_name[], the judge reads them back with
 * tl_tag_of(); classes and states work the same way.
 *
 * DESIGN: the list lives in protocol.def so that the shell driver can read the
 * same lines (exit codes) with sed; this header only turns each line into an
 * enum constant and a string. Everything is static so any file may include it.
 */
#ifndef TL_PROTOCOL_H
#define TL_PROTOCOL_H

#include <ctype.h>
#include <string.h>

#define TL_TAG(name)
#define TL_EXIT(name, code, who)
#define TL_STATE(name, word)
#define TL_CLASS(name, id, why)

/* Line tags: TL_TAG_BEGIN ... */
#undef TL_TAG
#define TL_TAG(name) TL_TAG_##name,
enum tl_tag {
#include "protocol.def"
    TL_TAG_COUNT
};
#undef TL_TAG
#define TL_TAG(name) #name,
static const char *const tl_tag_name[TL_TAG_COUNT] = {
#include "protocol.def"
};
#undef TL_TAG
#define TL_TAG(name)

/* Exit codes: TL_EXIT_TSAN == 66 ... */
#undef TL_EXIT
#define TL_EXIT(name, code, who) TL_EXIT_##name = (code),
enum tl_exit {
#include "protocol.def"
};
#undef TL_EXIT
#define TL_EXIT(name, code, who) case (code): return (who);
/* Who ends a process with this status, or NULL when it means nothing to the kit. */
static inline const char *tl_exit_who(int code)
{
    switch (code) {
#include "protocol.def"
    default: return NULL;
    }
}
#undef TL_EXIT
#define TL_EXIT(name, code, who)

/* Thread states: TL_ST_RUN ... */
#undef TL_STATE
#define TL_STATE(name, word) TL_ST_##name,
enum tl_state {
#include "protocol.def"
    TL_ST_COUNT
};
#undef TL_STATE
#define TL_STATE(name, word) word,
static const char *const tl_state_word[TL_ST_COUNT] = {
#include "protocol.def"
};
#undef TL_STATE
#define TL_STATE(name, word)

/* Bug classes, in priority order: TL_RACE, TL_WRONG ... (TL_NONE: no failure). */
#undef TL_CLASS
#define TL_CLASS(name, id, why) TL_##name,
enum tl_class {
    TL_NONE = -1,
#include "protocol.def"
    TL_CLASS_COUNT
};
#undef TL_CLASS
#define TL_CLASS(name, id, why) id,
static const char *const tl_class_name[TL_CLASS_COUNT] = {
#include "protocol.def"
};
#undef TL_CLASS
#define TL_CLASS(name, id, why) why,
static const char *const tl_class_why[TL_CLASS_COUNT] = {
#include "protocol.def"
};
#undef TL_CLASS
#define TL_CLASS(name, id, why)

#undef TL_TAG
#undef TL_EXIT
#undef TL_STATE
#undef TL_CLASS

/* The tag a channel line starts with ("RES <nonce> ..."), or TL_TAG_COUNT. */
static inline enum tl_tag tl_tag_of(const char *line)
{
    for (int t = 0; t < TL_TAG_COUNT; t++) {
        size_t n = strlen(tl_tag_name[t]);
        if (strncmp(line, tl_tag_name[t], n) == 0 && line[n] == ' ')
            return (enum tl_tag)t;
    }
    return TL_TAG_COUNT;
}

/* The state whose word is s, or TL_ST_COUNT. */
static inline enum tl_state tl_state_of(const char *s)
{
    for (int i = 0; i < TL_ST_COUNT; i++)
        if (strcmp(tl_state_word[i], s) == 0)
            return (enum tl_state)i;
    return TL_ST_COUNT;
}

/* The class named by the n bytes at s ("data-race"), or TL_NONE. */
static inline enum tl_class tl_class_of(const char *s, size_t n)
{
    for (int c = 0; c < TL_CLASS_COUNT; c++)
        if (strlen(tl_class_name[c]) == n && strncmp(tl_class_name[c], s, n) == 0)
            return (enum tl_class)c;
    return TL_NONE;
}

/* Counts that read right when one: "1 threads" becomes "1 thread", in place.
 * The messages a learner reads (a test's assertion, which crosses the channel
 * in Check's verdict, and the report's own lines) print counts as "%ld threads";
 * rather than a plural argument at each of their 180-odd call sites, each
 * message passes through here once. Only a lone 1 (not 21, 0.1 or T1) right
 * before a noun of the list changes; "1 ms" or "1 was" stay as they are. */
static inline void tl_singular(char *s)
{
    static const char *const nouns[] = {
        "acquisitions", "allocations", "batches", "callers", "calls", "chunks", "consumers",
        "entries", "exercises", "futures", "indexes", "items", "jobs", "keys", "lines", "lookups",
        "messages", "poppers", "pops", "producers", "pushers", "pushes", "puts", "readers",
        "receivers", "receives", "references", "rows", "runs", "seeds", "senders", "sends",
        "slots", "snapshots", "stages", "steps", "submits", "submitters", "tasks", "tests",
        "thieves", "threads", "tickers", "time-outs", "times", "transfers", "tries", "trylocks",
        "units", "values", "visits", "waiters", "wake-ups", "wakeups", "workers", "writers",
        "writes", "yields"};
    for (char *p = strstr(s, "1 "); p != NULL; p = strstr(p + 1, "1 ")) {
        if (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '.' || p[-1] == '-'))
            continue;
        char *w = p + 2;
        for (size_t i = 0; i < sizeof nouns / sizeof nouns[0]; i++) {
            size_t n = strlen(nouns[i]);
            if (strncmp(w, nouns[i], n) != 0 || isalnum((unsigned char)w[n]) || w[n] == '_' ||
                w[n] == '-')
                continue;
            /* entries -> entry, pushes -> push, thieves -> thief, else drop the s */
            size_t keep = n - 1, cut = 1;
            if (strcmp(nouns[i] + n - 3, "ies") == 0)
                w[n - 3] = 'y', keep = n - 2, cut = 2;
            else if (strcmp(nouns[i] + n - 3, "ves") == 0)
                w[n - 3] = 'f', keep = n - 2, cut = 2;
            else if (n > 4 && strcmp(nouns[i] + n - 2, "es") == 0 && strchr("hx", nouns[i][n - 3]))
                keep = n - 2, cut = 2;
            memmove(w + keep, w + keep + cut, strlen(w + keep + cut) + 1);
            break;
        }
    }
}

#endif /* TL_PROTOCOL_H */
