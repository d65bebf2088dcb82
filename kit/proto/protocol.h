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

#endif /* TL_PROTOCOL_H */
