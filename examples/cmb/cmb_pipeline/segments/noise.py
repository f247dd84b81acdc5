# the hit-count map of a scan at resolution nside: more hits near the top and bottom
import numpy as np

nside = get_input()
sigma0 = params["sigma0"]
y = (np.arange(nside) + 0.5) / nside - 0.5
hits = np.repeat(4.0 + 60.0 * y[:, None] ** 2, nside, axis=1)
np.save(get_data_fn("hits.npy"), hits)
noise_level = float(np.mean(sigma0**2 / hits))  # expected noise power per mode
save_param(["sigma0", "noise_level"])
set_output(nside)
