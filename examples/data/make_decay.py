#!/usr/bin/env python3
"""Write examples/data/decay.csv: a*exp(-b*x) + c with a=2.5, b=1.3, c=0.5
at x = 0, 0.1, ..., 3.9, plus Gaussian noise of standard deviation 0.02
(seeded, so the file is reproducible). Standard library only."""
import math
import os
import random

random.seed(7)
a, b, c = 2.5, 1.3, 0.5
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "decay.csv")
with open(path, "w") as f:
    f.write("# Exponential decay a*exp(-b*x) + c with a=2.5, b=1.3, c=0.5 and Gaussian noise (sd 0.02)\n")
    f.write("x,y\n")
    for i in range(40):
        x = i * 0.1
        y = a * math.exp(-b * x) + c + random.gauss(0, 0.02)
        f.write(f"{x:.2f},{y:.6f}\n")
