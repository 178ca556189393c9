"""Fast random numbers for the numba kernels: xoroshiro128++ and a 256-layer ziggurat.

numba's own ``np.random.standard_normal`` draws with Box-Muller from a Mersenne Twister; a spiking
network with noise on every neuron draws ``n_neurons * n_steps`` normals (1e8 for the standard
benchmark), which made it the bottleneck. The ziggurat of Marsaglia & Tsang (2000), in the form
NumPy uses (52-bit uniforms, 256 layers), with Blackman & Vigna's xoroshiro128++ generator, is
several times faster. Streams are seeded with splitmix64 from a NumPy Generator, so the same
``random_state`` gives the same numbers, bit for bit.
"""

import functools

import numpy as np

_ZIG_R = 3.6541528853610088  # rightmost layer edge for 256 layers
_ZIG_V = 0.00492867323399  # area of each layer


@functools.cache
def ziggurat_tables():
    """Return ``(k, w, f)`` tables for the 256-layer normal ziggurat (computed once per process;
    the kernels only read them).

    Layer ``i`` covers ``x in [0, X[i])``; a 52-bit integer ``r`` gives ``x = r * w[i]`` and is
    accepted at once when ``r < k[i]``. ``f[i] = exp(-X[i]**2 / 2)``.
    """
    f = lambda x: np.exp(-0.5 * x * x)  # noqa: E731
    X = np.empty(257)
    X[0] = _ZIG_V / f(_ZIG_R)
    X[1] = _ZIG_R
    for i in range(1, 255):
        X[i + 1] = np.sqrt(-2.0 * np.log(_ZIG_V / X[i] + f(X[i])))
    X[256] = 0.0
    two52 = float(2**52)
    w = X[:256] / two52
    k = np.floor(X[1:257] / X[:256] * two52).astype(np.uint64)
    fx = f(X)
    return k, w, fx


def seed_state(rng, n_streams=1):
    """Draw xoroshiro128++ states (shape ``(n_streams, 2)``, uint64) from a NumPy Generator."""
    seeds = rng.integers(0, 2**64, size=(n_streams, 2), dtype=np.uint64, endpoint=False)
    # splitmix64 scramble so that nearby seeds give unrelated streams; never the all-zero state
    z = seeds.copy()
    with np.errstate(over="ignore"):
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    z[(z[:, 0] == 0) & (z[:, 1] == 0), 0] = np.uint64(1)
    return np.ascontiguousarray(z)
