/*
 * The model layer: text or builder calls -> hash-consed expression graph
 * -> reverse-mode derivatives -> scheduled linear program. Nothing here
 * runs over data; src/exec/ does.
 */
#ifndef NLSQ_MODEL_MODEL_H
#define NLSQ_MODEL_MODEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "kernel/faddeeva.h" /* nk_faddeeva_re, nk_faddeeva_im */
#include "kernel/scalar.h"   /* nk_powi, nk_digamma, ...: every evaluator's one copy */
#include "nlsq.h"

/* ---- ops.c: every op's name, arity, types and scalar meaning ---------- */

/* Internal ops continue the public numbering. */
enum {
    OP_CONST = NLSQ_OP_COUNT, /* value                                      */
    OP_VAR,                   /* index = variable number                    */
    OP_PARAM,                 /* index = parameter number                   */
    OP_POWI,                  /* a ^ index, index a small integer           */
    OP_MUL0,                  /* 0 if a or b is 0, else a*b (strong zero)   */
    OP_DIV0,                  /* b == 0 ? 0 : a/b                           */
    OP_DIGAMMA,               /* psi(a), the derivative of lgamma           */
    OP_TOTAL
};

enum { TYPE_NUM = 0, TYPE_BOOL = 1 };

enum {
    OPF_COMMUTATIVE = 1, /* operands may be put in canonical order        */
    OPF_BOOL_ARGS = 2,   /* all arguments are conditions                  */
    OPF_BOOL_RESULT = 4, /* the result is a condition                     */
    OPF_CALL = 8,        /* a transcendental library call                 */
    OPF_LEAF = 16        /* const, var, param: no arguments               */
};

typedef struct op_info {
    const char *name; /* as written in the language, or internal name    */
    int arity;
    int flags;
} op_info;

const op_info *op_get(int op);
/* Look up a function name of the language; -1 if unknown. */
int op_lookup_function(const char *name, size_t len);
/* The scalar meaning of an op; k is the POWI exponent. */
double op_apply(int op, double a, double b, double c, int k);

/* ---- graph.c: hash-consed nodes ---------------------------------------- */

typedef struct node {
    int32_t a[3];  /* argument node ids, -1 when absent                */
    double value;  /* OP_CONST                                         */
    int32_t index; /* OP_VAR, OP_PARAM: number; OP_POWI: exponent      */
    uint8_t op;
    uint8_t type; /* TYPE_NUM or TYPE_BOOL                            */
} node;

typedef struct graph {
    node *nodes;
    int32_t count, cap;
    int32_t *table;   /* open addressing; -1 empty                        */
    size_t table_cap; /* power of two                                     */
    int32_t max_nodes;
} graph;

/* Negative results of graph_* functions. */
enum { GRAPH_NOMEM = -1, GRAPH_LIMIT = -2 };

void graph_init(graph *g, int32_t max_nodes);
void graph_free(graph *g);
int32_t graph_const(graph *g, double value);
int32_t graph_leaf(graph *g, int op, int32_t index);
/*
 * The node for op(a, b, c), arguments of the right types already checked.
 * Folds constants and applies only IEEE-exact rewrites; orders commutative
 * operands canonically (lower id first) so a+b and b+a are one node.
 */
int32_t graph_op(graph *g, int op, int32_t a, int32_t b, int32_t c);
/* u^k for an integer constant k. */
int32_t graph_powi(graph *g, int32_t a, int32_t k);
int graph_is_const(const graph *g, int32_t id, double value);
/* Copy the nodes reachable from roots into dst (renumbered, same order);
   roots[] is rewritten to the new ids. */
int graph_copy_reachable(const graph *src, graph *dst, int32_t *roots, int nroots);
/* The same with variable leaves rebound: var_to[v] >= 0 makes variable v
   variable var_to[v], var_to[v] = -1 - p makes it parameter p. */
int graph_copy_rebound(const graph *src, graph *dst, int32_t *roots, int nroots, const int32_t *var_to);

/* ---- diff.c: reverse-mode derivatives ---------------------------------- */

/* Fill d[j] with the node of d root / d param j, for j < nparams.
   Returns 0 or a GRAPH_* error. */
int diff_reverse(graph *g, int32_t root, int nparams, int32_t *d);

/* ---- schedule.c: the linear program ------------------------------------ */

/*
 * Slots of the per-point program, each a block of points:
 *   [0, nvars)                  the variables (read from the data)
 *   [nvars, nvars + nbcast)     uniform values broadcast once per call
 *   [nvars + nbcast, nslots)    temporaries, reused after their last use
 * Uniform registers u[]: [0, nparams) the parameters, then constants, then
 * results of uniform instructions, computed once per evaluation.
 */
typedef struct instr {
    uint8_t op;
    int32_t dst;
    int32_t src[3];
    int32_t k; /* OP_POWI exponent */
} instr;

typedef struct program {
    int nvars, nparams;
    int nuniform;   /* registers u[]                              */
    double *uconst; /* u[nparams + i] = uconst[i]                  */
    int nconst;
    instr *uinstr;
    int nuinstr;
    int *bcast;
    int nbcast; /* slot nvars+i = u[bcast[i]]             */
    instr *pinstr;
    int npinstr;
    int nslots;
    int *out; /* nparams+1 slots: f, then dF/dp_j            */
    int graph_nodes;
} program;

int schedule_build(const graph *g, int32_t root, const int32_t *d, int nvars, int nparams, program *p);
void program_free(program *p);
size_t program_dump(const program *p, char *buf, size_t size);

/* ---- lex.c: tokens of the model language ------------------------------- */

typedef enum token_kind {
    TK_EOF,
    TK_NUM,
    TK_NAME,
    TK_SEP,
    TK_LPAREN,
    TK_RPAREN,
    TK_COMMA,
    TK_ASSIGN,
    TK_PLUS,
    TK_MINUS,
    TK_STAR,
    TK_SLASH,
    TK_POW,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
    TK_EQ,
    TK_NE,
    TK_AND,
    TK_OR,
    TK_NOT
} token_kind;

typedef struct token {
    token_kind kind;
    size_t start, end; /* byte offsets in the text */
    double value;      /* TK_NUM */
} token;

typedef struct lexer {
    const char *text;
    size_t len, pos;
    int paren_depth; /* new lines inside parentheses are white space */
    void *c_locale;  /* a locale_t for strtod_l, made once per parse  */
} lexer;

/* Make and free the lexer's C locale (numbers must not depend on the
   process's locale); lex_begin returns 0, or -1 when out of memory. */
int lex_begin(lexer *lx);
void lex_end(lexer *lx);

/* The next token; on a lexical error fills err and returns its code. */
nlsq_status lex_next(lexer *lx, token *t, nlsq_error *err);
/* 1-based line and column (in bytes) of a byte offset. */
void text_position(const char *text, size_t len, size_t offset, int *line, int *column);
const char *token_describe(token_kind kind);

/* ---- parse.c / lex.c ----------------------------------------------------- */

typedef struct name_list {
    char **names;
    int count;
} name_list;

void name_list_free(name_list *l);
int name_list_find(const name_list *l, const char *name, size_t len);
/* Append a copy of name[0..len); 0 when out of memory. */
int name_list_add(name_list *l, const char *name, size_t len);
/* A deep copy; 0 when out of memory. */
int name_list_copy(const name_list *src, name_list *dst);
int name_is_identifier(const char *s, size_t len);
/* Split "a,b , c" into names; checks each is an identifier, not reserved,
   not repeated. `what` ("variable"/"parameter") is for messages. */
nlsq_status name_list_parse(const char *csv, const char *what, name_list *out, nlsq_error *err);
int name_is_reserved(const char *name, size_t len);

/* ---- library.c: the shapes model text may call ------------------------- */

#define LIBRARY_MAX_SHAPES 64 /* room for the table (checked by test_library) */

/* The shape's index, or -1. */
int library_lookup(const char *name, size_t len);
/* The parameter prefix of the occurrence-th component of a shape. */
void library_prefix(int shape, int occurrence, char *buf, size_t size);

/* A shape's call as the parser found it. */
typedef struct parsed_component {
    int shape;
    char prefix[64];
    int params[NLSQ_SHAPE_MAX_PARAMS]; /* parameter index, or -1 */
    int32_t root;                      /* the call's value in the parse graph */
} parsed_component;

typedef struct component_list {
    parsed_component *items;
    int count, cap;
} component_list;

/*
 * Parse text into g. vars: the variable names (VAR nodes are made first,
 * in this order). params: in/out; when `fixed` the list is the complete
 * parameter order (PARAM nodes made next, in order), otherwise names are
 * appended on first appearance. On success *root is the model's node.
 * Calls of library shapes are appended to components unless it is NULL
 * (the caller frees components->items, also after an error).
 */
nlsq_status parse_model(const char *text, size_t len, const name_list *vars, name_list *params, int fixed, graph *g,
                        int32_t *root, component_list *components, nlsq_error *err);

/* ---- format.c: expressions back to text ---------------------------------- */

size_t model_format(const nlsq_model *m, int32_t root, char *buf, size_t size);

/* ---- model.c -------------------------------------------------------------- */

/* What a layer above attaches to a model (the exec layer's compiled
   kernels): it fills the slot on first use and says how to release it, so
   the model layer frees it without calling up into that layer. */
typedef struct model_attachment {
    void (*release)(struct model_attachment *self);
} model_attachment;

/* A component of a parsed model (nlsq_model_component). */
typedef struct model_component {
    int shape;
    char prefix[64];
    int params[NLSQ_SHAPE_MAX_PARAMS];
    struct nlsq_model *value; /* the call's value alone, same variables and parameters */
} model_component;

struct nlsq_model {
    name_list vars, params;
    model_component *components;
    int ncomponents;
    graph g; /* f and its derivatives only                       */
    int32_t root;
    int32_t *dnode; /* nparams derivative nodes                         */
    program prog;
    model_attachment *kernels; /* compiled kernels of prog (src/exec/jit.c),
                            attached by the first fit that wants one;
                            NULL until then                               */
};

/* m with the flagged variables made parameters, appended after m's in
   variable order (the others keep their order): a value constant over a
   fit's points (a shared fit's covariate) is then computed once per
   evaluation, not per point. The same function of the same numbers. */
nlsq_status model_vars_to_params(const nlsq_model *m, const unsigned char *to_param, nlsq_model **out, nlsq_error *err);

/* Take ownership of the names and build derivatives and program from g's
   node `root`. On failure frees everything given. */
/* allow_unused: parameters that do not reach the root are kept, with an
   all-zero derivative, instead of refused (nlsq_builder_allow_unused_params). */
nlsq_status model_make(graph *g, int32_t root, name_list *vars, name_list *params, int allow_unused, nlsq_model **out,
                       nlsq_error *err);

#endif
