# filter one image: multiply in Fourier space, transform back
import numpy as np

img = get_input("fftimg")
fft = np.load(get_data_fn("fft.npy", seg="fftimg"))
gauss = np.load(get_data_fn("gauss.npy", seg="mkgauss"))
load_param("mkgauss", names=["sigma"])
smooth = np.real(np.fft.ifft2(fft * gauss))
np.save(get_data_fn("smooth.npy"), smooth)
logger.info("image %s filtered with sigma %s", img, sigma)
set_output({"image": img, "max": float(smooth.max())})
