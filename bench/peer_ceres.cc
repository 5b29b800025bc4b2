// bench/peer_ceres: the Ceres Solver peer of bench/fit. One residual block
// per point with AutoDiffCostFunction (Ceres's own forward-mode AD, the way
// its documentation fits curves), dense QR, default options otherwise.
// Prints the same RESULT lines as bench_fit.
#include <ceres/ceres.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "fitdata.h"
#include "handwritten.h"
}

namespace {

struct Decay {
    double x, y;
    template <typename T> bool operator()(const T *p, T *r) const {
        r[0] = p[0] * exp(-p[1] * x) + p[2] - y;
        return true;
    }
};

struct GaussLin {
    double x, y;
    template <typename T> bool operator()(const T *p, T *r) const {
        T d = x - p[1];
        r[0] = p[0] * exp(-d * d / (2.0 * p[2] * p[2])) + p[3] + p[4] * x - y;
        return true;
    }
};

struct Gauss2D {
    double x, xy, y;
    template <typename T> bool operator()(const T *p, T *r) const {
        T dx = x - p[1], dy = xy - p[3];
        r[0] = p[0] * exp(-(dx * dx / (2.0 * p[2] * p[2]) + dy * dy / (2.0 * p[4] * p[4]))) + p[5] - y;
        return true;
    }
};

struct Gauss3 {
    double x, y;
    template <typename T> bool operator()(const T *p, T *r) const {
        T s = p[9];
        for (int k = 0; k < 3; k++) {
            T d = x - p[3 * k + 1];
            s += p[3 * k] * exp(-d * d / (2.0 * p[3 * k + 2] * p[3 * k + 2]));
        }
        r[0] = s - y;
        return true;
    }
};

const fit_eval_fn HAND[4] = {hand_decay, hand_gauss_linear, hand_gauss2d, hand_three_gauss};

}  // namespace

int main(int argc, char **argv) {
    std::string sizes = "1e3,1e4,1e5,1e6", models = "decay,gauss_lin,gauss2d,gauss3";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--sizes")) sizes = argv[i + 1];
        if (!std::strcmp(argv[i], "--models")) models = argv[i + 1];
    }
    size_t pos = 0;
    while (pos <= sizes.size()) {
        size_t comma = sizes.find(',', pos);
        std::string tok = sizes.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        pos = comma == std::string::npos ? sizes.size() + 1 : comma + 1;
        size_t m = static_cast<size_t>(std::atof(tok.c_str()));
        for (int k = 0; k < 4; k++) {
            const bench_fit_model *bm = &FIT_MODELS[k];
            if (models.find(bm->name) == std::string::npos) continue;
            std::vector<double> x(2 * m), y(m), p(10);
            fit_make_data(bm, m, x.data(), y.data(), nullptr, HAND[k]);
            auto t0 = std::chrono::steady_clock::now();
            fit_start(bm, p.data());
            ceres::Problem problem;
            for (size_t i = 0; i < m; i++) {
                ceres::CostFunction *cf = nullptr;
                switch (k) {
                case 0: cf = new ceres::AutoDiffCostFunction<Decay, 1, 3>(new Decay{x[i], y[i]}); break;
                case 1: cf = new ceres::AutoDiffCostFunction<GaussLin, 1, 5>(new GaussLin{x[i], y[i]}); break;
                case 2: cf = new ceres::AutoDiffCostFunction<Gauss2D, 1, 6>(new Gauss2D{x[i], x[m + i], y[i]}); break;
                default: cf = new ceres::AutoDiffCostFunction<Gauss3, 1, 10>(new Gauss3{x[i], y[i]}); break;
                }
                problem.AddResidualBlock(cf, nullptr, p.data());
            }
            ceres::Solver::Options opt;
            opt.linear_solver_type = ceres::DENSE_QR;
            opt.max_num_iterations = 100 * (bm->n + 1);
            opt.num_threads = 1;
            ceres::Solver::Summary summary;
            ceres::Solve(opt, &problem, &summary);
            double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::printf("RESULT %s %zu %s %.6f %d %.17g", bm->name, m, summary.IsSolutionUsable() ? "ceres" : "ceres(failed)",
                        t, summary.num_residual_evaluations, 2 * summary.final_cost);
            for (int j = 0; j < bm->n; j++) std::printf(" %.17g", p[j]);
            std::printf("\n");
            std::fflush(stdout);
        }
    }
    return 0;
}
