"""Reference counting and memory: loops of fits do not grow the process;
exceptions in callbacks reach the caller."""
import gc
import os

import numpy as np
import pytest

import nlsqc


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc to read the resident memory")
def test_ten_thousand_fits_do_not_grow_memory():
    x = np.linspace(0, 4, 40)
    y = decay(x, 2.5, 1.3, 0.5) + 0.01 * np.sin(9 * x)
    s = np.full(x.size, 0.01)

    def one(i):
        r = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s)
        _ = r.perr, r.message
        if i % 3 == 0:
            nlsqc.curve_fit("a*exp(-b*x) + c", x, y, p0=[2, 1, 0], full_output=True)
        if i % 50 == 0:
            try:  # an error path too
                nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], max_nfev=1)
            except RuntimeError:
                pass
    for i in range(500):  # warm up: caches, allocator pools
        one(i)
    gc.collect()
    before = rss_kb()
    for i in range(10000):
        one(i)
    gc.collect()
    grown = rss_kb() - before
    print(f"resident memory after 10,000 fits: {grown:+d} kB")
    assert grown < 2048, f"10,000 fits grew the process by {grown} kB"


def test_models_are_freed():
    import weakref
    refs = []
    for c in range(100):  # 100 distinct models: more than the cache holds
        m = nlsqc.model(lambda x, a, c=float(c): a * x + c, n=1)
        refs.append(weakref.ref(m))
    del m
    gc.collect()
    alive = sum(r() is not None for r in refs)
    assert alive <= 64, f"{alive} models alive; the cache holds 64"


def test_callback_exceptions_propagate():
    x = np.linspace(0, 4, 40)
    y = decay(x, 2.5, 1.3, 0.5)

    class Stop(Exception):
        pass

    def cb(it, cost, p, g, s):
        if it == 2:
            raise Stop("in the callback")
    with pytest.raises(Stop, match="in the callback"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], callback=cb)
    with pytest.raises(KeyboardInterrupt):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], callback=lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    # and the next fit is unaffected
    assert nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0]).success
