"""The solvers: spectral (`exact`, `krylov`, with residual certificates from `certify`) and gradient (`gd`,
`sgd`, `infonce`, `weighted`, all trained by the one loop of `training` and judged by `convergence`; `train` is
their entry point on a co-occurrence graph, `encoders` and `sampler` their building blocks).

Import the modules themselves; this package imports nothing, so that `amf.spectral` can sit between the
spectral solvers and the training code without a cycle.
"""
