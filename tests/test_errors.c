/*
 * Malformed models: each gets its expected status code and the 1-based
 * line and column of the offending text, a message that names the
 * problem, no model, and (under the sanitizers) no leak. Hostile inputs
 * (huge text, deep nesting, NUL and non-ASCII bytes) end in a clear error
 * too, never a crash or a stack overflow.
 */
#include <stdlib.h>

#include "check.h"
#include "nlsq.h"

typedef struct bad_case {
    const char *text;
    size_t len;         /* 0: strlen(text) */
    const char *vars;   /* NULL: default "x" */
    const char *params; /* NULL: order of appearance */
    nlsq_status code;
    int line, column;    /* 0, 0: not about a position in the text */
    const char *mention; /* a word the message must contain */
} bad_case;

static const bad_case CASES[] = {
    /* empty */
    {"", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 1, "empty"},
    {"   # only a comment\n  ", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 1, "empty"},
    /* unknown functions and arity */
    {"foo(x)", 0, NULL, NULL, NLSQ_ERR_UNKNOWN_FUNCTION, 1, 1, "foo"},
    {"a*bar(x, 2)", 0, NULL, NULL, NLSQ_ERR_UNKNOWN_FUNCTION, 1, 3, "bar"},
    {"t = 2*x; a*t(x)", 0, NULL, NULL, NLSQ_ERR_UNKNOWN_FUNCTION, 1, 12, "not a function"},
    {"exp(x, 2)", 0, NULL, NULL, NLSQ_ERR_ARITY, 1, 1, "exp takes 1"},
    {"a*atan2(x)", 0, NULL, NULL, NLSQ_ERR_ARITY, 1, 3, "atan2 takes 2"},
    {"where(x > 0, a)", 0, NULL, NULL, NLSQ_ERR_ARITY, 1, 1, "where takes 3"},
    {"a + pow()", 0, NULL, NULL, NLSQ_ERR_ARITY, 1, 5, "got 0"},
    {"sin(x, a, b, c)", 0, NULL, NULL, NLSQ_ERR_ARITY, 1, 1, "got 4"},
    {"exp + a", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 1, "function"},
    /* parentheses */
    {"(a*x", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 1, "never closed"},
    {"((a*x)", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 1, "never closed"},
    {"a*x)", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 4, "')'"},
    {")a", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 1, "without '('"},
    {"exp(x", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 6, "end of text"},
    {"()", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 2, "without '('"},
    /* operators in the wrong place */
    {"a*x +", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 6, "operand"},
    {"a*x ^", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 6, "operand"},
    {"a*x +\n b", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 6, "operand"},
    {"* a", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 1, "'*'"},
    {"a x", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 3, "missing operator"},
    {"a, b", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 2, "','"},
    {"a*x = 3", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 5, "'='"},
    {"t = = 2", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 5, "'='"},
    {"a < x < b", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 7, "chain"},
    /* statements and local names */
    {"t = x - t0; t = 2*x; a*t", 0, NULL, NULL, NLSQ_ERR_REDEFINED, 1, 13, "already defined"},
    {"t = x - t0\nt = 1\na*t", 0, NULL, NULL, NLSQ_ERR_REDEFINED, 2, 1, "already defined"},
    {"a*x; t = x", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 6, "last statement"},
    {"t = a*x", 0, NULL, NULL, NLSQ_ERR_SYNTAX, 1, 8, "ends with a definition"},
    {"x = 2; a*x", 0, NULL, NULL, NLSQ_ERR_REDEFINED, 1, 1, "variable"},
    {"pi = 3; a*pi", 0, NULL, NULL, NLSQ_ERR_REDEFINED, 1, 1, "reserved"},
    {"exp = 3; a", 0, NULL, NULL, NLSQ_ERR_REDEFINED, 1, 1, "reserved"},
    {"t = b*x; b = 2; t", 0, NULL, NULL, NLSQ_ERR_REDEFINED, 1, 10, "parameter"},
    {"a = 1; a*x", 0, NULL, "a", NLSQ_ERR_REDEFINED, 1, 1, "parameter list"},
    /* names: variables and parameters */
    {"a*x + c", 0, NULL, "a,b", NLSQ_ERR_UNDEFINED_NAME, 1, 7, "'c'"},
    {"a*x + b", 0, NULL, "a,b,c", NLSQ_ERR_UNDEFINED_NAME, 0, 0, "'c'"},
    {"t = q*x; a*x", 0, NULL, NULL, NLSQ_ERR_UNDEFINED_NAME, 0, 0, "'q'"},
    {"a*x", 0, "x", "x,a", NLSQ_ERR_NAME_CONFLICT, 0, 0, "both"},
    {"a*x", 0, "x,x", NULL, NLSQ_ERR_NAME_CONFLICT, 0, 0, "twice"},
    {"a*x", 0, "x,2y", NULL, NLSQ_ERR_NAME_CONFLICT, 0, 0, "2y"},
    {"a*x", 0, "exp", NULL, NLSQ_ERR_NAME_CONFLICT, 0, 0, "reserved"},
    {"a*x", 0, "x,", NULL, NLSQ_ERR_NAME_CONFLICT, 0, 0, "comma"},
    {"a*x", 0, "x", "a,,b", NLSQ_ERR_NAME_CONFLICT, 0, 0, "''"},
    /* types: conditions and numbers */
    {"where(x, 1, a)", 0, NULL, NULL, NLSQ_ERR_TYPE, 1, 1, "condition"},
    {"where(x > 0, x < 1, a)", 0, NULL, NULL, NLSQ_ERR_TYPE, 1, 1, "number"},
    {"a*(x > 0)", 0, NULL, NULL, NLSQ_ERR_TYPE, 1, 2, "condition"},
    {"x > a", 0, NULL, NULL, NLSQ_ERR_TYPE, 1, 1, "condition"},
    {"where(a && x > 0, 1, a)", 0, NULL, NULL, NLSQ_ERR_TYPE, 1, 9, "&&"},
    {"where(!a, 1, a)", 0, NULL, NULL, NLSQ_ERR_TYPE, 1, 7, "!"},
    {"-(x > a)", 0, NULL, NULL, NLSQ_ERR_TYPE, 1, 1, "unary"},
    /* bytes and numbers */
    {"a*x\xc2\xb2", 0, NULL, NULL, NLSQ_ERR_BAD_CHAR, 1, 4, "non-ASCII"},
    {"a\xe2\x88\x92"
     "b",
     0, NULL, NULL, NLSQ_ERR_BAD_CHAR, 1, 2, "0xE2"},
    {"a*x\0+b", 6, NULL, NULL, NLSQ_ERR_BAD_CHAR, 1, 4, "NUL"},
    {"a*x\x01", 0, NULL, NULL, NLSQ_ERR_BAD_CHAR, 1, 4, "control"},
    {"a & b", 0, NULL, NULL, NLSQ_ERR_BAD_CHAR, 1, 3, "&&"},
    {"a | b", 0, NULL, NULL, NLSQ_ERR_BAD_CHAR, 1, 3, "||"},
    {"a $ b", 0, NULL, NULL, NLSQ_ERR_BAD_CHAR, 1, 3, "'$'"},
    {"a*x + .", 0, NULL, NULL, NLSQ_ERR_BAD_CHAR, 1, 7, "'.'"},
    {"a*1e", 0, NULL, NULL, NLSQ_ERR_BAD_NUMBER, 1, 3, "exponent"},
    {"a*1e+ x", 0, NULL, NULL, NLSQ_ERR_BAD_NUMBER, 1, 3, "exponent"},
    {"2x + a", 0, NULL, NULL, NLSQ_ERR_BAD_NUMBER, 1, 1, "2*x"},
    {"1.2.3*a", 0, NULL, NULL, NLSQ_ERR_BAD_NUMBER, 1, 1, "malformed"},
    {"1e999*a", 0, NULL, NULL, NLSQ_ERR_BAD_NUMBER, 1, 1, "range"},
};

static void check_case(const bad_case *c, int index)
{
    nlsq_model_options o = nlsq_model_options_default();
    if (c->vars) o.vars = c->vars;
    o.params = c->params;
    nlsq_model *m = (nlsq_model *)&o; /* must be reset to NULL */
    nlsq_error e;
    size_t len = c->len ? c->len : strlen(c->text);
    nlsq_status st = nlsq_model_parse_n(c->text, len, &o, &m, &e);
    CHECK_MSG(st == c->code, "case %d \"%s\": status %d (%s), want %d (%s); message: %s", index, c->text, st,
              nlsq_status_str(st), c->code, nlsq_status_str(c->code), e.message);
    CHECK_MSG(e.code == st, "case %d: error record code %d, status %d", index, e.code, st);
    CHECK_MSG(e.line == c->line && e.column == c->column, "case %d \"%s\": at %d:%d, want %d:%d (%s)", index, c->text,
              e.line, e.column, c->line, c->column, e.message);
    CHECK_MSG(strstr(e.message, c->mention) != NULL, "case %d: message \"%s\" does not mention \"%s\"", index,
              e.message, c->mention);
    if (c->line)
        CHECK_MSG(strstr(e.message, "column") != NULL, "case %d: message \"%s\" gives no column", index, e.message);
    CHECK_MSG(m == NULL, "case %d: a model came back from a failed parse", index);
    nlsq_model_free(m == (nlsq_model *)&o ? NULL : m);
}

static void test_malformed_models_report_code_and_position(void)
{
    int n = (int)(sizeof CASES / sizeof CASES[0]);
    CHECK(n >= 40);
    for (int i = 0; i < n; i++) check_case(&CASES[i], i);
}

static nlsq_status parse_len(const char *text, size_t len, nlsq_error *e)
{
    nlsq_model *m = NULL;
    nlsq_status st = nlsq_model_parse_n(text, len, NULL, &m, e);
    nlsq_model_free(m);
    return st;
}

static char *repeat(const char *prefix, const char *unit, size_t count, const char *suffix, size_t *len)
{
    size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
    *len = pl + ul * count + sl;
    char *s = malloc(*len + 1);
    memcpy(s, prefix, pl);
    for (size_t i = 0; i < count; i++) memcpy(s + pl + i * ul, unit, ul);
    memcpy(s + pl + ul * count, suffix, sl + 1);
    return s;
}

static void test_megabyte_of_text_is_refused_not_parsed(void)
{
    size_t len;
    char *s = repeat("a*x", " + a*x", 174763, "", &len); /* 1 MiB */
    CHECK(len > 1000000);
    nlsq_error e;
    CHECK(parse_len(s, len, &e) == NLSQ_ERR_LIMIT);
    CHECK_MSG(e.line == 1 && e.column == NLSQ_MODEL_MAX_TEXT + 1, "at %d:%d", e.line, e.column);
    CHECK(strstr(e.message, "longer than") != NULL);
    free(s);
}

static void test_deep_nesting_is_an_error_not_a_stack_overflow(void)
{
    /* each repeated 100000 times, or as often as fits the text limit */
    const char *units[][3] = {
        {"", "(", "x"},    /* open parentheses        */
        {"", "-", "x"},    /* unary minus             */
        {"x", "^x", ""},   /* right-associative chain */
        {"", "exp(", "x"}, /* nested calls            */
        {"where(", "!", "(x>0), 1, a)"},
    };
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        size_t len, count = 100000;
        if (count * strlen(units[k][1]) > NLSQ_MODEL_MAX_TEXT - 100)
            count = (NLSQ_MODEL_MAX_TEXT - 100) / strlen(units[k][1]);
        char *s = repeat(units[k][0], units[k][1], count, units[k][2], &len);
        nlsq_error e;
        nlsq_status st = parse_len(s, len, &e);
        CHECK_MSG(st == NLSQ_ERR_LIMIT, "nesting \"%s\" x 100000: status %s (%s)", units[k][1], nlsq_status_str(st),
                  e.message);
        CHECK_MSG(e.column > 0 && e.column < 2000, "nesting error at column %d", e.column);
        CHECK(strstr(e.message, "nesting deeper") != NULL);
        free(s);
    }
    /* just inside the limit still parses */
    size_t len;
    char *s = repeat("a*", "(", NLSQ_MODEL_MAX_DEPTH - 2, "x", &len);
    char *t = malloc(len + NLSQ_MODEL_MAX_DEPTH);
    strcpy(t, s);
    for (int i = 0; i < NLSQ_MODEL_MAX_DEPTH - 2; i++) strcat(t, ")");
    nlsq_error e;
    CHECK_MSG(parse_len(t, strlen(t), &e) == NLSQ_OK, "%d levels: %s", NLSQ_MODEL_MAX_DEPTH - 2, e.message);
    free(s);
    free(t);
}

static void test_long_flat_expression_parses(void)
{
    /* 20000 terms: long, but flat, within limits, and with a real value */
    size_t len;
    char *s = repeat("a*x", " + a*x", 19999, "", &len);
    nlsq_model *m = NULL;
    nlsq_error e;
    CHECK_MSG(nlsq_model_parse_n(s, len, NULL, &m, &e) == NLSQ_OK, "%s", e.message);
    if (m) {
        double p = 2, x = 0.5, f, J;
        CHECK(nlsq_model_eval(m, &p, &x, 1, &f, &J, &e) == NLSQ_OK);
        CHECK_NEAR(f, 20000.0, 1e-9, "sum of 20000 terms");
        CHECK_NEAR(J, 10000.0, 1e-9, "derivative of 20000 terms");
    }
    nlsq_model_free(m);
    free(s);
}

static void test_invalid_arguments_are_reported(void)
{
    nlsq_model *m = NULL;
    nlsq_error e;
    CHECK(nlsq_model_parse(NULL, NULL, &m, &e) == NLSQ_ERR_INVALID_ARGUMENT && m == NULL);
    CHECK(strstr(e.message, "text") != NULL);
    CHECK(nlsq_model_parse("a*x", NULL, NULL, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_model_parse("a*x", NULL, &m, NULL) == NLSQ_OK); /* err may be NULL */
    double p = 1, x = 1, f;
    CHECK(nlsq_model_eval(NULL, &p, &x, 1, &f, NULL, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_model_eval(m, NULL, &x, 1, &f, NULL, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(strstr(e.message, "params") != NULL);
    CHECK(nlsq_model_eval(m, &p, NULL, 1, &f, NULL, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_model_eval(m, &p, NULL, 0, NULL, NULL, &e) == NLSQ_OK); /* nothing to do */
    CHECK(nlsq_model_eval(m, &p, &x, (size_t)-1 / 2, &f, NULL, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    nlsq_model_stats st;
    CHECK(nlsq_model_get_stats(NULL, &st, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_model_get_stats(m, NULL, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_model_dump(NULL, NULL, 0) == 0);
    CHECK(nlsq_model_param_name(m, 1) == NULL && nlsq_model_param_name(m, -1) == NULL);
    CHECK(nlsq_model_var_name(NULL, 0) == NULL);
    CHECK(nlsq_model_num_params(NULL) == 0);
    nlsq_model_free(m);
    nlsq_model_free(NULL);
    for (int s = 0; s <= NLSQ_STATUS_COUNT; s++) CHECK(nlsq_status_str((nlsq_status)s) != NULL);
    CHECK(strcmp(nlsq_status_str(NLSQ_ERR_SYNTAX), "syntax error") == 0);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_malformed_models_report_code_and_position),
        TEST(test_megabyte_of_text_is_refused_not_parsed),
        TEST(test_deep_nesting_is_an_error_not_a_stack_overflow),
        TEST(test_long_flat_expression_parses),
        TEST(test_invalid_arguments_are_reported),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
