/*
 * Scheduling: the graph of f and its derivatives becomes two straight-line
 * programs. Nodes that depend only on parameters and constants form the
 * uniform program, run once per evaluation; the rest form the per-point
 * program, run over blocks of points. A uniform value used per point is
 * broadcast into a slot once per evaluation, so every per-point instruction
 * reads and writes whole blocks and the interpreter's loops stay simple.
 *
 * Temporaries reuse slots after their last use. A destination never shares
 * a slot with its own operands, so the interpreter may treat them as
 * non-aliasing (restrict) and vectorise freely.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct sched {
    const graph *g;
    uint8_t *reach, *varying;
    int32_t *ureg;     /* uniform register of a node, -1 if none         */
    int32_t *bslot;    /* broadcast index of a uniform register, -1      */
    int32_t *last_use; /* per-point instruction index of a node's last use */
    int32_t *tslot;    /* temp slot of a per-point node                  */
} sched;

void program_free(program *p)
{
    free(p->uconst);
    free(p->uinstr);
    free(p->bcast);
    free(p->pinstr);
    free(p->out);
    memset(p, 0, sizeof *p);
}

static int is_point_instr(const sched *s, int32_t id)
{
    return s->reach[id] && s->varying[id] && s->g->nodes[id].op != OP_VAR;
}

static void mark(sched *s, const int32_t *outs, int nouts)
{
    const graph *g = s->g;
    for (int i = 0; i < nouts; i++) s->reach[outs[i]] = 1;
    for (int32_t id = g->count - 1; id >= 0; id--)
        if (s->reach[id])
            for (int k = 0; k < 3; k++)
                if (g->nodes[id].a[k] >= 0) s->reach[g->nodes[id].a[k]] = 1;
    for (int32_t id = 0; id < g->count; id++) {
        const node *n = &g->nodes[id];
        s->varying[id] = n->op == OP_VAR;
        for (int k = 0; k < 3; k++)
            if (n->a[k] >= 0 && s->varying[n->a[k]]) s->varying[id] = 1;
    }
}

/* Registers: parameters, then constants, then uniform instruction results. */
static int assign_uniform(sched *s, program *p)
{
    const graph *g = s->g;
    int nconst = 0, ninstr = 0;
    for (int32_t id = 0; id < g->count; id++) {
        s->ureg[id] = -1;
        if (!s->reach[id] || s->varying[id]) continue;
        if (g->nodes[id].op == OP_CONST)
            nconst++;
        else if (g->nodes[id].op != OP_PARAM)
            ninstr++;
    }
    p->uconst = malloc((size_t)(nconst ? nconst : 1) * sizeof *p->uconst);
    p->uinstr = malloc((size_t)(ninstr ? ninstr : 1) * sizeof *p->uinstr);
    if (!p->uconst || !p->uinstr) return GRAPH_NOMEM;
    int next_const = p->nparams, next_instr = p->nparams + nconst;
    for (int32_t id = 0; id < g->count; id++) {
        if (!s->reach[id] || s->varying[id]) continue;
        const node *n = &g->nodes[id];
        if (n->op == OP_PARAM) {
            s->ureg[id] = n->index;
        } else if (n->op == OP_CONST) {
            p->uconst[p->nconst++] = n->value;
            s->ureg[id] = next_const++;
        } else {
            instr in = {n->op, next_instr, {-1, -1, -1}, n->index};
            for (int k = 0; k < 3; k++)
                if (n->a[k] >= 0) in.src[k] = s->ureg[n->a[k]];
            p->uinstr[p->nuinstr++] = in;
            s->ureg[id] = next_instr++;
        }
    }
    p->nuniform = next_instr;
    return 0;
}

/* The broadcast slot index for a uniform node, made on first use. */
static int32_t bcast_of(sched *s, program *p, int32_t id)
{
    int32_t r = s->ureg[id];
    if (s->bslot[r] < 0) {
        s->bslot[r] = p->nbcast;
        p->bcast[p->nbcast++] = r;
    }
    return s->bslot[r];
}

static int assign_bcast_and_last_use(sched *s, program *p, const int32_t *outs, int nouts)
{
    const graph *g = s->g;
    p->bcast = malloc((size_t)(p->nuniform ? p->nuniform : 1) * sizeof *p->bcast);
    if (!p->bcast) return GRAPH_NOMEM;
    for (int r = 0; r < p->nuniform; r++) s->bslot[r] = -1;
    int pos = 0;
    for (int32_t id = 0; id < g->count; id++) {
        s->last_use[id] = -1;
        if (!is_point_instr(s, id)) continue;
        for (int k = 0; k < 3; k++) {
            int32_t a = g->nodes[id].a[k];
            if (a < 0) continue;
            if (s->varying[a])
                s->last_use[a] = pos;
            else
                bcast_of(s, p, a);
        }
        pos++;
    }
    p->npinstr = pos;
    for (int i = 0; i < nouts; i++) {
        if (s->varying[outs[i]])
            s->last_use[outs[i]] = INT_MAX;
        else
            bcast_of(s, p, outs[i]);
    }
    return 0;
}

/* Slot of an operand: variables and broadcasts are fixed; temporaries are
   numbered from 0 here and moved past the broadcasts at the end. */
static int32_t operand_slot(const sched *s, const program *p, int32_t id, int32_t temp_base)
{
    if (!s->varying[id]) return p->nvars + s->bslot[s->ureg[id]];
    if (s->g->nodes[id].op == OP_VAR) return s->g->nodes[id].index;
    return temp_base + s->tslot[id];
}

static int emit_point(sched *s, program *p)
{
    const graph *g = s->g;
    p->pinstr = malloc((size_t)(p->npinstr ? p->npinstr : 1) * sizeof *p->pinstr);
    int32_t *free_slots = malloc((size_t)(p->npinstr ? p->npinstr : 1) * sizeof *free_slots);
    if (!p->pinstr || !free_slots) {
        free(free_slots);
        return GRAPH_NOMEM;
    }
    int nfree = 0, ntemps = 0, pos = 0;
    for (int32_t id = 0; id < g->count; id++) {
        if (!is_point_instr(s, id)) continue;
        const node *n = &g->nodes[id];
        s->tslot[id] = nfree ? free_slots[--nfree] : ntemps++;
        for (int k = 0; k < 3; k++) {
            int32_t a = n->a[k];
            int dup = (k > 0 && a == n->a[0]) || (k > 1 && a == n->a[1]);
            if (a >= 0 && !dup && is_point_instr(s, a) && s->last_use[a] == pos) free_slots[nfree++] = s->tslot[a];
        }
        pos++;
    }
    free(free_slots);
    int32_t temp_base = p->nvars + p->nbcast;
    pos = 0;
    for (int32_t id = 0; id < g->count; id++) {
        if (!is_point_instr(s, id)) continue;
        const node *n = &g->nodes[id];
        instr in = {n->op, temp_base + s->tslot[id], {-1, -1, -1}, n->index};
        for (int k = 0; k < 3; k++)
            if (n->a[k] >= 0) in.src[k] = operand_slot(s, p, n->a[k], temp_base);
        p->pinstr[pos++] = in;
    }
    p->nslots = temp_base + ntemps;
    return 0;
}

int schedule_build(const graph *g, int32_t root, const int32_t *d, int nvars, int nparams, program *p)
{
    memset(p, 0, sizeof *p);
    p->nvars = nvars;
    p->nparams = nparams;
    int nouts = nparams + 1;
    int32_t *outs = malloc((size_t)nouts * sizeof *outs);
    size_t n = (size_t)(g->count ? g->count : 1);
    sched s = {g,
               calloc(n, 1),
               calloc(n, 1),
               malloc(n * sizeof(int32_t)),
               NULL,
               malloc(n * sizeof(int32_t)),
               malloc(n * sizeof(int32_t))};
    int rc = GRAPH_NOMEM;
    p->out = malloc((size_t)nouts * sizeof *p->out);
    if (!outs || !s.reach || !s.varying || !s.ureg || !s.last_use || !s.tslot || !p->out) goto done;
    outs[0] = root;
    for (int j = 0; j < nparams; j++) outs[j + 1] = d[j];
    mark(&s, outs, nouts);
    if ((rc = assign_uniform(&s, p)) < 0) goto done;
    rc = GRAPH_NOMEM;
    if (!(s.bslot = malloc((size_t)(p->nuniform ? p->nuniform : 1) * sizeof(int32_t)))) goto done;
    if ((rc = assign_bcast_and_last_use(&s, p, outs, nouts)) < 0) goto done;
    if ((rc = emit_point(&s, p)) < 0) goto done;
    for (int i = 0; i < nouts; i++) p->out[i] = operand_slot(&s, p, outs[i], p->nvars + p->nbcast);
    for (int32_t id = 0; id < g->count; id++) p->graph_nodes += s.reach[id];
    rc = 0;
done:
    free(outs);
    free(s.reach);
    free(s.varying);
    free(s.ureg);
    free(s.bslot);
    free(s.last_use);
    free(s.tslot);
    if (rc < 0) program_free(p);
    return rc;
}

/* ---- dump ---------------------------------------------------------------- */

typedef struct sink {
    char *buf;
    size_t size, len;
} sink;

static void put(sink *k, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(sink *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = k->len < k->size ? k->size - k->len : 0;
    int n = vsnprintf(room ? k->buf + k->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) k->len += (size_t)n;
}

static void put_instr(sink *k, const instr *in, char reg)
{
    const op_info *info = op_get(in->op);
    put(k, "  %c%d = %s", reg, in->dst, info->name);
    for (int i = 0; i < info->arity; i++) put(k, " %c%d", reg, in->src[i]);
    if (in->op == OP_POWI) put(k, " %d", in->k);
    put(k, "\n");
}

size_t program_dump(const program *p, char *buf, size_t size)
{
    sink k = {buf, size, 0};
    if (size) buf[0] = '\0';
    put(&k, "uniform registers: u0..u%d parameters, %d constants\n", p->nparams - 1, p->nconst);
    for (int i = 0; i < p->nconst; i++) put(&k, "  u%d = %.17g\n", p->nparams + i, p->uconst[i]);
    put(&k, "uniform program (once per evaluation): %d instructions\n", p->nuinstr);
    for (int i = 0; i < p->nuinstr; i++) put_instr(&k, &p->uinstr[i], 'u');
    put(&k, "slots: s0..s%d variables, %d broadcasts, %d temporaries\n", p->nvars - 1, p->nbcast,
        p->nslots - p->nvars - p->nbcast);
    for (int i = 0; i < p->nbcast; i++) put(&k, "  s%d = u%d\n", p->nvars + i, p->bcast[i]);
    put(&k, "point program (per point): %d instructions\n", p->npinstr);
    for (int i = 0; i < p->npinstr; i++) put_instr(&k, &p->pinstr[i], 's');
    put(&k, "outputs: f = s%d", p->out[0]);
    for (int j = 0; j < p->nparams; j++) put(&k, ", d%d = s%d", j, p->out[j + 1]);
    put(&k, "\n");
    return k.len;
}
