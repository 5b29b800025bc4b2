"""nlsqc.least_squares (SciPy's signature, residual functions called back)
against scipy.optimize.least_squares and against the traced
least_squares_model on the same problems; its errors and result fields."""
import numpy as np
import pytest

import nlsqc

so = pytest.importorskip("scipy.optimize")

T = np.linspace(0, 4, 60)
Y = 3 * np.exp(-1.3 * T) + 0.5 + 0.02 * np.random.default_rng(0).standard_normal(60)
Y_OUTLIERS = Y.copy()
Y_OUTLIERS[::10] += 2


def decay_residuals(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


def decay_residuals_dot(p, t, y):
    """The same residuals through np.dot and np.array: not traceable."""
    basis = np.array([np.exp(-p[1] * t), np.ones_like(t)]).T
    return np.dot(basis, [p[0], p[2]]) - y


def decay_jac(p, t, y):
    e = np.exp(-p[1] * t)
    return np.column_stack([e, -p[0] * t * e, np.ones_like(t)])


def decay(t, a, k, c):
    return a * np.exp(-k * t) + c


def soft_l1_by_hand(z):
    rho = np.empty((3, z.size))
    s = 1 + z
    rho[0], rho[1], rho[2] = 2 * (s ** 0.5 - 1), s ** -0.5, -0.5 * s ** -1.5
    return rho


@pytest.mark.filterwarnings("ignore:jac=.3-point. works equivalently")
@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
@pytest.mark.parametrize("jac", ["2-point", "3-point", decay_jac])
@pytest.mark.parametrize("fun, path", [(decay_residuals, "traced"), (decay_residuals_dot, "callback")])
def test_least_squares_agrees_with_scipy_and_the_traced_fit(fun, path, method, jac):
    ours = nlsqc.least_squares(fun, [1, 1, 0], jac, method=method, args=(T, Y))
    ref = so.least_squares(fun, [1, 1, 0], jac, method=method, args=(T, Y))
    assert ours.model_path == path, ours.model_reason
    traced = nlsqc.least_squares_model(decay, [1, 1, 0], T, Y, method=method, ftol=1e-12, xtol=1e-12, gtol=1e-12)
    assert ours.success and ours.status > 0
    np.testing.assert_allclose(ours.x, ref.x, rtol=1e-6)
    np.testing.assert_allclose(ours.x, traced.x, rtol=1e-6)
    np.testing.assert_allclose(ours.cost, ref.cost, rtol=1e-10)
    np.testing.assert_array_equal(ours.fun, decay_residuals(ours.x, T, Y))
    np.testing.assert_allclose(ours.jac, decay_jac(ours.x, T, Y), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.grad, ours.jac.T @ ours.fun, rtol=1e-12, atol=1e-15)
    assert ours.njev is None if (method == "lm" and not callable(jac)) else ours.njev >= 1


@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("loss", ["soft_l1", "cauchy", "huber", "arctan", soft_l1_by_hand])
@pytest.mark.parametrize("fun", [decay_residuals, decay_residuals_dot])
def test_least_squares_robust_losses_agree_with_scipy(method, loss, fun):
    ours = nlsqc.least_squares(fun, [1, 1, 0], method=method, loss=loss, f_scale=0.1,
                               args=(T, Y_OUTLIERS))
    assert ours.model_path == ("callback" if callable(loss) or fun is decay_residuals_dot else "traced")
    ref = so.least_squares(fun, [1, 1, 0], method=method, loss=loss, f_scale=0.1,
                           args=(T, Y_OUTLIERS))
    # a callable loss is folded into the residuals: the same cost, another
    # Gauss-Newton model, so the ftol stop lands a little elsewhere
    rtol = 1e-4 if callable(loss) else 1e-6
    np.testing.assert_allclose(ours.x, ref.x, rtol=rtol)
    np.testing.assert_allclose(ours.cost, ref.cost, rtol=1e-8)
    np.testing.assert_allclose(ours.jac, ref.jac, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(ours.fun, ref.fun, rtol=1e-3, atol=1e-5)


def rosenbrock(x):
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])


@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_least_squares_bounds_agree_with_scipy(method):
    bounds = ([-np.inf, 1.5], np.inf)
    ours = nlsqc.least_squares(rosenbrock, [2.0, 2.0], bounds=bounds, method=method)
    ref = so.least_squares(rosenbrock, [2.0, 2.0], bounds=bounds, method=method)
    np.testing.assert_allclose(ours.x, ref.x, rtol=1e-7)
    np.testing.assert_array_equal(ours.active_mask, ref.active_mask)
    assert list(ours.active_mask) == [0, -1]


def test_least_squares_fewer_residuals_than_parameters_trf():
    ours = nlsqc.least_squares(lambda x: np.array([x[0] ** 2 + x[1] ** 2 - 1.0]), [2.0, 1.0])
    assert ours.fun.shape == (1,) and ours.jac.shape == (1, 2)
    assert ours.cost < 1e-15 and ours.success


def test_least_squares_scipy_errors():
    with pytest.raises(ValueError, match="Method 'lm' doesn't work when the number of residuals is less than "
                                         "the number of variables."):
        nlsqc.least_squares(lambda x: np.array([x[0] - x[1]]), [1.0, 2.0], method="lm")
    with pytest.raises(ValueError, match="`x0` must be finite"):
        nlsqc.least_squares(rosenbrock, [np.inf, 1.0])
    with pytest.raises(ValueError, match="Inconsistent shapes between bounds and `x0`"):
        nlsqc.least_squares(rosenbrock, [1.0, 2.0], bounds=([0.0], [3.0, 4.0]))
    with pytest.raises(ValueError, match="`loss` must be one of"):
        nlsqc.least_squares(rosenbrock, [1.0, 2.0], loss="hinge")
    with pytest.raises(ValueError, match="Method 'lm' doesn't support bounds"):
        nlsqc.least_squares(rosenbrock, [1.0, 2.0], bounds=(0, 3), method="lm")
    with pytest.raises(ValueError, match="method='lm' supports only 'linear' loss"):
        nlsqc.least_squares(rosenbrock, [1.0, 2.0], method="lm", loss="huber")
    with pytest.raises(ValueError, match="`x0` is infeasible"):
        nlsqc.least_squares(rosenbrock, [1.0, 2.0], bounds=(3, 4))
    with pytest.raises(ValueError, match="The return value of `loss` callable has wrong shape"):
        nlsqc.least_squares(rosenbrock, [1.0, 2.0], loss=lambda z: np.vstack([z, z]))
    with pytest.raises(TypeError, match="lsmr"):
        nlsqc.least_squares(rosenbrock, [1.0, 2.0], tr_solver="lsmr", tr_options={"tol": 1e-10})


def test_least_squares_residual_function_error_is_raised_as_is():
    calls = []

    def fails_later(x):
        calls.append(1)
        if len(calls) > 3:  # inside the library's run, not at SciPy's checks of x0
            raise ZeroDivisionError("from the residual function")
        return np.array([x[0], x[0] - 1.0])

    with pytest.raises(ZeroDivisionError, match="from the residual function"):
        nlsqc.least_squares(fails_later, [2.0])


def test_least_squares_sparse_jac_is_solved_dense_and_returned_sparse():
    sparse = pytest.importorskip("scipy.sparse")
    ours = nlsqc.least_squares(rosenbrock, [-2.0, 1.0], jac=lambda x: sparse.csr_matrix(
        [[-20 * x[0], 10.0], [-1.0, 0.0]]))
    assert sparse.issparse(ours.jac)
    np.testing.assert_allclose(ours.x, [1, 1])


def test_least_squares_verbose_prints_scipys_summary(capsys):
    nlsqc.least_squares(rosenbrock, [-2.0, 1.0], verbose=1)
    out = capsys.readouterr().out
    assert "termination condition is satisfied" in out
    assert "Function evaluations" in out and "first-order optimality" in out


def test_least_squares_max_nfev_one_returns_x0_with_status_0():
    res = nlsqc.least_squares(rosenbrock, [-2.0, 1.0], max_nfev=1)
    assert res.nfev == 1 and res.status == 0 and not res.success
    np.testing.assert_array_equal(res.x, [-2.0, 1.0])
    assert res.message == "The maximum number of function evaluations is exceeded."


def test_least_squares_traced_only_when_it_reproduces_fun():
    """A residual function with Python control flow on a value, or one the
    tracer would read differently, is called back, and the reason said."""
    def branchy(p):
        return p[0] - 1.0 if p[0] > 0 else p[0] + 1.0

    res = nlsqc.least_squares(branchy, [3.0])
    assert res.model_path == "callback" and res.model_reason
    np.testing.assert_allclose(res.x, [1.0])
    res = nlsqc.least_squares(decay_residuals, [1, 1, 0], args=(T, Y), kwargs={})
    assert res.model_path == "traced" and res.model_reason is None
