# every simulation into one instance: Monte Carlo means and error bars beside the model
# multiplex cross_prod group_by "0"
import numpy as np

runs = [np.load(f) for f in glob_parent("cls.npz", segs=["clcmb"])]
nsim = len(runs)
ell, model = runs[0]["ell"], runs[0]["model"]
stats = {}
for name in ("cross", "weighted", "noise"):
    values = np.array([r[name] for r in runs])
    stats[name] = (values.mean(axis=0), values.std(axis=0, ddof=1))
mean, std = stats["cross"]
# how far the Monte Carlo mean is from the model, in error bars of the mean (about 1)
chi2 = float(np.mean(((mean - model) / (std / np.sqrt(nsim))) ** 2))
# the auto minus cross spectrum: the noise power, beside what the hit counts predict
noise_ratio = float(np.mean(stats["noise"][0]) / runs[0]["noise_level"])

with open(get_data_fn("clplot.txt"), "w") as out:
    out.write("ell model cross cross_err weighted weighted_err\n")
    for row in zip(ell, model, *stats["cross"], *stats["weighted"], strict=True):
        out.write(" ".join(f"{v:.6g}" for v in row) + "\n")


def svg(width=480, height=300):
    """The model (line) and the cross spectrum's means with error bars (points)."""
    top = max(model.max(), (mean + std).max())
    x = lambda v: 40 + (v - ell[0]) / (ell[-1] - ell[0]) * (width - 60)  # noqa: E731
    y = lambda v: height - 30 - max(v, 0) / top * (height - 50)  # noqa: E731
    line = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(ell, model, strict=True))
    parts = [f'<polyline fill="none" stroke="black" points="{line}"/>']
    for a, m, s in zip(ell, mean, std, strict=True):
        parts.append(
            f'<line x1="{x(a):.1f}" x2="{x(a):.1f}" y1="{y(m - s):.1f}" y2="{y(m + s):.1f}" '
            f'stroke="red"/><circle cx="{x(a):.1f}" cy="{y(m):.1f}" r="2" fill="red"/>'
        )
    title = f"cross spectrum, {nsim} simulations (red) and model (black)"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<text x="40" y="16" font-size="12">{title}</text>{"".join(parts)}</svg>\n'
    )


with open(get_data_fn("clplot.svg"), "w") as out:
    out.write(svg())
expose(["nsim", "chi2", "noise_ratio"])
logger.info("%d simulations: chi2 %.2f, noise %.2f of expected", nsim, chi2, noise_ratio)
