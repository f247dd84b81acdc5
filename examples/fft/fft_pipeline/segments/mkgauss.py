# the Gaussian filter, in Fourier space (params come from the pipeline's SEGMENTS table)
import numpy as np

size, sigma = params["size"], params["sigma"]
freq = np.fft.fftfreq(size)
fx, fy = np.meshgrid(freq, freq)
gauss = np.exp(-2 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
np.save(get_data_fn("gauss.npy"), gauss)
save_param(["size", "sigma"])
set_output(sigma)
