# two noisy observations of one sky map, and two estimates of its binned spectrum
import numpy as np

sim_id = get_input("cmb")
load_param("noise", names=["sigma0", "noise_level"])
sky = np.load(get_data_fn("cmb.npy", seg="cmb"))
model = np.load(get_data_fn("model.npy", seg="cmb"))
hits = np.load(get_data_fn("hits.npy", seg="noise"))
nside = sky.shape[0]
rng = np.random.default_rng(1000 + sim_id)
maps = [sky + rng.normal(size=sky.shape) * sigma0 / np.sqrt(hits) for _ in range(2)]

ell = np.hypot(*np.meshgrid(np.fft.fftfreq(nside) * nside, np.fft.fftfreq(nside) * nside))
edges = np.arange(2, nside // 2, params["bin_width"])
which = np.digitize(ell, edges)


def binned(values):
    return np.array([values[which == b].mean() for b in range(1, len(edges))])


def cross(a, b):
    return np.real(np.fft.fft2(a) * np.conj(np.fft.fft2(b))) / a.size


weight = hits / hits.mean()
coupling = np.mean(weight**2)  # what weighting does to the power of a smooth spectrum
np.savez(
    get_data_fn("cls.npz"),
    ell=(edges[:-1] + edges[1:]) / 2,
    model=binned(model),
    cross=binned(cross(*maps)),
    weighted=binned(cross(weight * maps[0], weight * maps[1])) / coupling,
    noise=binned(cross(maps[0], maps[0]) - cross(*maps)),
    noise_level=noise_level,
)
logger.info("simulation %s: spectra in %d bins", sim_id, len(edges) - 1)
set_output(sim_id)
