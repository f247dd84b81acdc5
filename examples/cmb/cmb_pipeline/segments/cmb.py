# one sky map per pushed (nside, sim_id): a Gaussian field with the model spectrum
import numpy as np

(nside, sim_id) = get_input()
ell = np.hypot(*np.meshgrid(np.fft.fftfreq(nside) * nside, np.fft.fftfreq(nside) * nside))
# a toy LCDM-like spectrum: falling with ell, with acoustic wiggles
model = 1e3 / (ell + 8.0) ** 2 * (1.0 + 0.4 * np.cos(ell / 3.0))
rng = np.random.default_rng(sim_id)
white = np.fft.fft2(rng.normal(size=(nside, nside)))
sky = np.real(np.fft.ifft2(white * np.sqrt(model)))
np.save(get_data_fn("cmb.npy"), sky)
np.save(get_data_fn("model.npy"), model)
save_param(["nside", "sim_id"])
logger.info("simulation %s: sky map %sx%s, rms %.3f", sim_id, nside, nside, sky.std())
set_output(sim_id)
