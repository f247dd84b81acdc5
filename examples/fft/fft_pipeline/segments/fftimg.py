# one instance per pushed image id: a 64x64 image of points (made from the id), and its FFT
import numpy as np

img = get_input()
rng = np.random.default_rng(img)
image = np.zeros((64, 64))
image[rng.integers(0, 64, 20), rng.integers(0, 64, 20)] = 1.0
np.save(get_data_fn("image.npy"), image)
np.save(get_data_fn("fft.npy"), np.fft.fft2(image))
set_output(img)
