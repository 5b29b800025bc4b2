"""The GPU from Python: the same traced model on a CUDA device agrees with
the CPU. Runs on a machine with a GPU, and in CI on the CUDA emulator
(tests/emulator: test_python.sh runs this file again with its stand-in
driver and NVRTC); skipped with the reason otherwise."""
import numpy as np
import pytest

import nlsqc


def gpus():
    d = nlsqc.devices()
    if len(d) == 1:
        pytest.skip(f"no CUDA device: {d[0].get('gpu_note', '')}")
    return d[1:]


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def gauss(x, a, mu, w, bg):
    return a * np.exp(-0.5 * ((x - mu) / w) ** 2) + bg


def test_curve_fit_on_the_gpu_agrees_with_the_cpu():
    dev = gpus()[0]["name"]
    rng = np.random.default_rng(7)
    x = np.linspace(0, 5, 3000)
    s = 0.05 + 0.05 * rng.random(x.size)
    y = decay(x, 2.5, 1.3, 0.5) + s * rng.standard_normal(x.size)
    cpu = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s, device="cpu")
    gpu = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s, device=dev)
    assert gpu.device == dev and cpu.device == "cpu"
    # norm-wise, as test_cuda.c: on noisy data the GPU's own rounding moves
    # where the solver stops by ~1e-10 (measured 7.6e-11 on the emulator)
    assert np.max(np.abs(gpu.popt - cpu.popt)) <= 1e-9 * np.max(np.abs(cpu.popt))
    assert np.max(np.abs(gpu.pcov - cpu.pcov)) <= 1e-7 * np.max(np.abs(cpu.pcov))
    again = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s, device=dev)
    np.testing.assert_array_equal(again.popt, gpu.popt)  # the same bits every run


def test_fit_batch_on_the_gpu_agrees_with_the_cpu():
    dev = gpus()[0]["name"]
    rng = np.random.default_rng(8)
    x = np.linspace(-3, 3, 24)
    truth = np.column_stack([rng.uniform(1, 3, 50), rng.uniform(-1, 1, 50), rng.uniform(0.5, 1.2, 50),
                             rng.uniform(0, 0.5, 50)])
    y = np.array([gauss(x, *t) for t in truth]) + 0.05 * rng.standard_normal((50, x.size))
    cpu = nlsqc.fit_batch(gauss, x, y, p0=truth * 1.1, method="lm", device="cpu")
    gpu = nlsqc.fit_batch(gauss, x, y, p0=truth * 1.1, method="lm", device=dev)
    assert gpu.device == dev and gpu.backend == "cuda"
    assert list(gpu.status > 0) == list(cpu.status > 0)
    scale = np.maximum(np.abs(cpu.popt), cpu.perr)
    assert np.max(np.abs(gpu.popt - cpu.popt) / scale) < 1e-6
