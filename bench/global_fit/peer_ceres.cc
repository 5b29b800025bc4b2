// bench/global_fit's Ceres Solver peer: the shared-parameter problem as
// bundle adjustment is posed to Ceres. One parameter block per data set
// [a, c, d] and one shared block [k0, Ea]; one residual block per data
// set (its m points) with an analytic Jacobian (a hand-written
// CostFunction, no autodiff); SPARSE_SCHUR with the locals eliminated
// first (an explicit ordering), Levenberg-Marquardt (Ceres's default),
// Jacobi scaling (its default), tolerances at SciPy's 1e-8.
//
//   bench_global_fit_ceres FILE THREADS
//
// Prints one RESULT line: seconds of Solve (the problem is built before
// the clock starts), the process's peak RSS, the final cost, k0 and Ea.
#include <ceres/ceres.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "gfdata.h"

namespace {

// The m residuals of one data set: a*exp(-k*x) + c + d*x - y, with
// k = k0*exp(-Ea*u), u = 1/T - 1/300 that set's value.
class SetCost : public ceres::CostFunction {
  public:
    SetCost(const double *x, const double *y, size_t m, double T) : x_(x), y_(y), m_(m), u_(1.0 / T - 1.0 / 300.0) {
        set_num_residuals(static_cast<int>(m));
        mutable_parameter_block_sizes()->push_back(3);
        mutable_parameter_block_sizes()->push_back(2);
    }

    bool Evaluate(double const *const *p, double *r, double **jac) const override {
        const double a = p[0][0], c = p[0][1], d = p[0][2], k0 = p[1][0], Ea = p[1][1];
        const double s = std::exp(-Ea * u_), k = k0 * s;
        for (size_t i = 0; i < m_; i++) {
            const double x = x_[i], e = std::exp(-k * x);
            r[i] = a * e + c + d * x - y_[i];
            if (jac && jac[0]) {
                jac[0][3 * i] = e;
                jac[0][3 * i + 1] = 1.0;
                jac[0][3 * i + 2] = x;
            }
            if (jac && jac[1]) {
                const double axe = a * x * e;
                jac[1][2 * i] = -axe * s;
                jac[1][2 * i + 1] = axe * k * u_;
            }
        }
        return true;
    }

  private:
    const double *x_, *y_;
    size_t m_;
    double u_;
};

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: bench_global_fit_ceres FILE THREADS\n");
        return 2;
    }
    gf_data g;
    if (!gf_read(argv[1], &g)) return 1;
    const int threads = std::atoi(argv[2]);
    std::vector<double> local(3 * g.D);
    for (size_t d = 0; d < g.D; d++)
        for (int j = 0; j < 3; j++) local[3 * d + j] = g.p0[j];
    double shared[2] = {g.p0[3], g.p0[4]};

    ceres::Problem problem;
    auto *ordering = new ceres::ParameterBlockOrdering;
    for (size_t d = 0; d < g.D; d++) {
        problem.AddResidualBlock(new SetCost(g.x, g.y + d * g.m, g.m, g.T[d]), nullptr, &local[3 * d], shared);
        ordering->AddElementToGroup(&local[3 * d], 0);
    }
    ordering->AddElementToGroup(shared, 1);

    ceres::Solver::Options opt;
    opt.linear_solver_type = ceres::SPARSE_SCHUR;
    opt.linear_solver_ordering.reset(ordering);
    opt.num_threads = threads;
    opt.function_tolerance = 1e-8;
    opt.parameter_tolerance = 1e-8;
    opt.gradient_tolerance = 1e-8;
    opt.max_num_iterations = 1000;
    ceres::Solver::Summary sum;
    auto t0 = std::chrono::steady_clock::now();
    ceres::Solve(opt, &problem, &sum);
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    std::printf("RESULT tool=ceres-%dt D=%zu seconds=%.6g rss_mb=%.1f cost=%.12g k0=%.15g Ea=%.15g nfev=%d "
                "status=%s sparse=%s\n",
                threads, g.D, dt, ru.ru_maxrss / 1024.0, sum.final_cost, shared[0], shared[1],
                sum.num_residual_evaluations, ceres::TerminationTypeToString(sum.termination_type),
                ceres::SparseLinearAlgebraLibraryTypeToString(sum.sparse_linear_algebra_library_type));
    gf_free(&g);
    return sum.IsSolutionUsable() ? 0 : 1;
}
