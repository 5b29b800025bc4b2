/* Lists of names (variables, parameters) and what makes a name acceptable:
   an identifier that is not a function or constant of the language. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

int name_is_reserved(const char *name, size_t len)
{
    if ((len == 2 && memcmp(name, "pi", 2) == 0) || (len == 1 && name[0] == 'e')) return 1;
    return op_lookup_function(name, len) >= 0;
}

void name_list_free(name_list *l)
{
    for (int i = 0; i < l->count; i++) free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->count = 0;
}

int name_list_find(const name_list *l, const char *name, size_t len)
{
    for (int i = 0; i < l->count; i++)
        if (strlen(l->names[i]) == len && memcmp(l->names[i], name, len) == 0) return i;
    return -1;
}

int name_list_add(name_list *l, const char *name, size_t len)
{
    char **names = realloc(l->names, (size_t)(l->count + 1) * sizeof *names);
    if (!names) return 0;
    l->names = names;
    char *copy = malloc(len + 1);
    if (!copy) return 0;
    memcpy(copy, name, len);
    copy[len] = '\0';
    l->names[l->count++] = copy;
    return 1;
}

int name_list_copy(const name_list *src, name_list *dst)
{
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->count; i++)
        if (!name_list_add(dst, src->names[i], strlen(src->names[i]))) {
            name_list_free(dst);
            return 0;
        }
    return 1;
}

int name_is_identifier(const char *s, size_t len)
{
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return 0;
    }
    return 1;
}

nlsq_status name_list_parse(const char *csv, const char *what, name_list *out, nlsq_error *err)
{
    memset(out, 0, sizeof *out);
    const char *s = csv;
    while (*s) {
        const char *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        const char *a = s, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        size_t len = (size_t)(b - a);
        const char *why = NULL;
        if (!name_is_identifier(a, len))
            why = "is not a name (letters, digits and _, not starting with a digit)";
        else if (name_is_reserved(a, len))
            why = "is a reserved function or constant name";
        else if (name_list_find(out, a, len) >= 0)
            why = "appears twice";
        if (why) {
            error_set(err, NLSQ_ERR_NAME_CONFLICT, 0, 0, "%s name '%.*s' in \"%.100s\" %s", what,
                      (int)(len > 64 ? 64 : len), a, csv, why);
            name_list_free(out);
            return NLSQ_ERR_NAME_CONFLICT;
        }
        if (!name_list_add(out, a, len)) {
            name_list_free(out);
            error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory");
            return NLSQ_ERR_NOMEM;
        }
        s = *end ? end + 1 : end;
        if (*end && !*s) { /* trailing comma */
            error_set(err, NLSQ_ERR_NAME_CONFLICT, 0, 0, "%s list \"%.100s\" ends with a comma", what, csv);
            name_list_free(out);
            return NLSQ_ERR_NAME_CONFLICT;
        }
    }
    return NLSQ_OK;
}
