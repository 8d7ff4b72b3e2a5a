"""The solvers: spectral (`exact`, `krylov`, with residual certificates from `certify`; `spectral` builds the
canonical encoders from their triplets and the float64 reference spectrum) and gradient (`gd`, `sgd`, `infonce`,
`weighted`, all trained by the one loop of `training` and judged by `convergence`; `gradient` is their entry point
on a co-occurrence graph, `encoders` and `sampler` their building blocks).

Import the modules themselves; this package imports nothing.
"""
