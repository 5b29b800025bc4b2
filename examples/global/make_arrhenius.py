#!/usr/bin/env python3
"""Write the data of docs/global-fits.md: 12 first-order decays
y = a*exp(-k(T)*x) + c + d*x, k(T) = k0*exp(-Ea*(1/T - 1/300)), with k0 = 1.3
and Ea = 2500 K shared, T = 280 .. 340 K (one per curve), a ~ U(1, 3),
c ~ U(-0.5, 0.5), d ~ U(-0.05, 0.05) per curve, x = 0 .. 5 in 50 points,
Gaussian noise of standard deviation 0.01 (seeded, so the files are
reproducible). Standard library only.

  arrhenius.csv       long layout: set,t,T,y, a row per point
  arrhenius_wide.csv  wide layout: t, then a column per curve named by its T
"""
import math
import os
import random

random.seed(23)
D, M = 12, 50
k0, Ea = 1.3, 2500.0
here = os.path.dirname(os.path.abspath(__file__))
x = [round(5 * i / (M - 1), 6) for i in range(M)]
T = [round(280 + 60 * s / (D - 1), 2) for s in range(D)]
Y = []
for s in range(D):
    a, c, d = random.uniform(1, 3), random.uniform(-0.5, 0.5), random.uniform(-0.05, 0.05)
    k = k0 * math.exp(-Ea * (1 / T[s] - 1 / 300))
    Y.append([round(a * math.exp(-k * xi) + c + d * xi + random.gauss(0, 0.01), 6) for xi in x])
with open(os.path.join(here, "arrhenius.csv"), "w") as f:
    f.write("set,t,T,y\n")
    for s in range(D):
        for i in range(M):
            f.write(f"{s + 1},{x[i]:g},{T[s]:g},{Y[s][i]:.6f}\n")
with open(os.path.join(here, "arrhenius_wide.csv"), "w") as f:
    f.write("t," + ",".join(f"{t:g}" for t in T) + "\n")
    for i in range(M):
        f.write(f"{x[i]:g}," + ",".join(f"{Y[s][i]:.6f}" for s in range(D)) + "\n")
