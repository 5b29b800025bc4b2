/*
 * The lexer of the model language. Every byte outside the language's
 * printable ASCII is an error with its position: model text often comes
 * from files and shells, and a stray non-ASCII minus sign or a NUL must be
 * named, not silently misread.
 */
#define _GNU_SOURCE /* strtod_l: numbers must not depend on the locale */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int lex_begin(lexer *lx)
{
    lx->c_locale = (void *)newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    return lx->c_locale ? 0 : -1;
}

void lex_end(lexer *lx)
{
    if (lx->c_locale) freelocale((locale_t)lx->c_locale);
    lx->c_locale = NULL;
}

void text_position(const char *text, size_t len, size_t offset, int *line, int *column)
{
    int l = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset && i < len; i++)
        if (text[i] == '\n') {
            l++;
            line_start = i + 1;
        }
    *line = l;
    *column = (int)(offset - line_start) + 1;
}

static nlsq_status lex_error(const lexer *lx, nlsq_error *err, nlsq_status code, size_t at, const char *what)
{
    int line, col;
    text_position(lx->text, lx->len, at, &line, &col);
    error_set(err, code, line, col, "%s at line %d, column %d", what, line, col);
    return code;
}

const char *token_describe(token_kind kind)
{
    static const char *const names[] = {"end of text", "number", "name", "end of statement",
                                        "'('",         "')'",    "','",  "'='",
                                        "'+'",         "'-'",    "'*'",  "'/'",
                                        "'^'",         "'<'",    "'<='", "'>'",
                                        "'>='",        "'=='",   "'!='", "'&&'",
                                        "'||'",        "'!'"};
    return names[kind];
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static int is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_name_char(char c)
{
    return is_name_start(c) || is_digit(c);
}

static size_t skip_digits(const lexer *lx, size_t i)
{
    while (i < lx->len && is_digit(lx->text[i])) i++;
    return i;
}

/* digits [. digits] [e [+-] digits], or . digits [...] */
static nlsq_status lex_number(lexer *lx, token *t, nlsq_error *err)
{
    size_t start = lx->pos;
    size_t i = skip_digits(lx, start);
    if (i < lx->len && lx->text[i] == '.') i = skip_digits(lx, i + 1);
    if (i < lx->len && (lx->text[i] == 'e' || lx->text[i] == 'E')) {
        size_t j = i + 1;
        if (j < lx->len && (lx->text[j] == '+' || lx->text[j] == '-')) j++;
        if (j >= lx->len || !is_digit(lx->text[j]))
            return lex_error(lx, err, NLSQ_ERR_BAD_NUMBER, start, "number with an empty exponent");
        i = skip_digits(lx, j);
    }
    if (i < lx->len && (is_name_char(lx->text[i]) || lx->text[i] == '.'))
        return lex_error(lx, err, NLSQ_ERR_BAD_NUMBER, start, "malformed number (a product needs '*', as in 2*x)");
    char buf[512];
    if (i - start >= sizeof buf) return lex_error(lx, err, NLSQ_ERR_BAD_NUMBER, start, "number literal too long");
    memcpy(buf, lx->text + start, i - start);
    buf[i - start] = '\0';
    double v = strtod_l(buf, NULL, (locale_t)lx->c_locale);
    if (isinf(v)) return lex_error(lx, err, NLSQ_ERR_BAD_NUMBER, start, "number out of the range of double");
    t->kind = TK_NUM;
    t->value = v;
    t->end = lx->pos = i;
    return NLSQ_OK;
}

static nlsq_status bad_byte(lexer *lx, nlsq_error *err)
{
    unsigned char c = (unsigned char)lx->text[lx->pos];
    char what[96];
    if (c == 0)
        snprintf(what, sizeof what, "NUL byte in model text");
    else if (c >= 0x80)
        snprintf(what, sizeof what, "non-ASCII byte 0x%02X in model text (only ASCII is accepted)", c);
    else if (c < 0x20 || c == 0x7f)
        snprintf(what, sizeof what, "control character 0x%02X in model text", c);
    else
        snprintf(what, sizeof what, "unexpected character '%c'", c);
    return lex_error(lx, err, NLSQ_ERR_BAD_CHAR, lx->pos, what);
}

/* Two-byte operators first, then one-byte ones. */
static int lex_operator(lexer *lx, token *t)
{
    static const struct {
        const char *s;
        token_kind k;
    } ops[] = {{"**", TK_POW},   {"<=", TK_LE},  {">=", TK_GE},    {"==", TK_EQ},    {"!=", TK_NE},
               {"&&", TK_AND},   {"||", TK_OR},  {"(", TK_LPAREN}, {")", TK_RPAREN}, {",", TK_COMMA},
               {"=", TK_ASSIGN}, {"+", TK_PLUS}, {"-", TK_MINUS},  {"*", TK_STAR},   {"/", TK_SLASH},
               {"^", TK_POW},    {"<", TK_LT},   {">", TK_GT},     {"!", TK_NOT},    {";", TK_SEP}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].s);
        if (lx->pos + n <= lx->len && memcmp(lx->text + lx->pos, ops[i].s, n) == 0) {
            t->kind = ops[i].k;
            t->end = lx->pos = lx->pos + n;
            return 1;
        }
    }
    return 0;
}

nlsq_status lex_next(lexer *lx, token *t, nlsq_error *err)
{
    while (lx->pos < lx->len) {
        char c = lx->text[lx->pos];
        if (c == ' ' || c == '\t' || c == '\r' || (c == '\n' && lx->paren_depth > 0))
            lx->pos++;
        else if (c == '#')
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n') lx->pos++;
        else
            break;
    }
    t->start = lx->pos;
    t->value = 0;
    if (lx->pos >= lx->len) {
        t->kind = TK_EOF;
        t->end = lx->pos;
        return NLSQ_OK;
    }
    char c = lx->text[lx->pos];
    if (c == '\n') {
        t->kind = TK_SEP;
        t->end = ++lx->pos;
        return NLSQ_OK;
    }
    if (is_digit(c) || (c == '.' && lx->pos + 1 < lx->len && is_digit(lx->text[lx->pos + 1])))
        return lex_number(lx, t, err);
    if (is_name_start(c)) {
        size_t i = lx->pos;
        while (i < lx->len && is_name_char(lx->text[i])) i++;
        t->kind = TK_NAME;
        t->end = lx->pos = i;
        return NLSQ_OK;
    }
    if (lex_operator(lx, t)) return NLSQ_OK;
    if (c == '&' || c == '|')
        return lex_error(lx, err, NLSQ_ERR_BAD_CHAR, lx->pos,
                         c == '&' ? "single '&' (logical and is '&&')" : "single '|' (logical or is '||')");
    return bad_byte(lx, err);
}
