"""Pipelet's fft example: ``fftimg`` transforms each pushed image (made from a seed),
``mkgauss`` makes one Gaussian filter, ``convol`` filters each image in Fourier space
(the product of 4 images and 1 filter: 4 instances)."""

PIPELINE = """
fftimg -> convol;
mkgauss -> convol;
"""

SEGMENTS = {
    "mkgauss": {"params": {"size": 64, "sigma": 3.0}},
}

PUSH = {"fftimg": [1, 2, 3, 4]}
