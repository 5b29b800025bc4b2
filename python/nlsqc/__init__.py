"""nlsqc: nonlinear least-squares curve fitting over the nlsq C library.

    import numpy as np, nlsqc
    def model(x, a, b, c):
        return a * np.exp(-b * x) + c
    popt, pcov = nlsqc.curve_fit(model, x, y, p0=[2, 1, 0])

Models are Python functions, traced once into nlsq's expression graph
(exact derivatives by automatic differentiation, compiled kernels, CPU or
GPU), or model text. See python/README.md.
"""
from . import models, mpi, np  # mpi imports no mpi4py until a comm= is given
from ._batch import BatchResult, fit_batch
from ._bootstrap import BootstrapResult, bootstrap
from ._callback import FallbackWarning
from ._diagnose import Diagnostics, FitQualityWarning
from ._fit import FitResult, OptimizeResult, curve_fit, least_squares_model
from ._global import design
from ._lsq import least_squares
from ._mcmc import McmcResult, McmcWarning, mcmc
from ._large import curve_fit_large, fit_chunks, fit_file
from ._model import Model, model
from ._profile import ProfileResult, conf_interval, conf_interval2d
from ._shared import GlobalResult, fit_global
from ._options import OptimizeWarning
from ._system import devices, info
from ._trace import TraceError
from . import _hdf5  # noqa: F401  (FitResult.save_hdf5; its struct joins the ABI check)

from ._lib import lib as _libnlsq, text as _text

# The package carries the library it was built with, so its version is the
# library's: CMake's project version, written once (CMakeLists.txt).
__version__ = _text(_libnlsq.nlsq_version())
del _libnlsq, _text

__all__ = ["curve_fit", "design", "least_squares", "least_squares_model", "curve_fit_large", "fit_file", "fit_chunks",
           "fit_batch", "fit_global", "GlobalResult", "mcmc", "McmcResult", "McmcWarning", "bootstrap", "BootstrapResult", "conf_interval",
           "conf_interval2d", "ProfileResult", "model", "Model", "FitResult", "BatchResult", "OptimizeResult",
           "OptimizeWarning", "FitQualityWarning", "Diagnostics", "FallbackWarning", "TraceError", "devices", "info", "np",
           "models", "mpi"]
