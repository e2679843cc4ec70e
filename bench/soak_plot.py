"""Plots scripts/soak's samples.csv: RSS, descriptors and threads, p50/p99, WAL and database
file over time, with the callback receiver's slow and down spells shaded.

    python bench/soak_plot.py samples.csv soak.png [WARMUP_SECONDS]
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src, dest = sys.argv[1], sys.argv[2]
    warm = float(sys.argv[3]) if len(sys.argv) > 3 else None
    with open(src) as f:
        rows = list(csv.DictReader(f))
    t = [float(r["elapsed_s"]) / 60 for r in rows]
    col = lambda k: [float(r[k]) for r in rows]  # noqa: E731
    fig, axes = plt.subplots(4, 1, figsize=(11, 11), sharex=True)
    panels = [
        (axes[0], [("rss_bytes", "RSS (MB)", 1 / 2**20)], "RSS (MB)"),
        (axes[1], [("fds", "open descriptors", 1), ("threads", "threads", 1)], "count"),
        (axes[2], [("p99_ms", "p99 (ms)", 1), ("p50_ms", "p50 (ms)", 1)], "latency (ms)"),
        (axes[3], [("wal_bytes", "WAL (MB)", 1 / 2**20), ("db_bytes", "database file (MB)", 1 / 2**20)], "MB"),
    ]
    for ax, series, ylabel in panels:
        for key, label, scale in series:
            ax.plot(t, [v * scale for v in col(key)], label=label, linewidth=1.2)
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=9)
        if warm:
            ax.axvline(warm / 60, color="grey", linestyle="--", linewidth=0.8)
        # The callback receiver's state at each sample: slow (orange) or down (grey) behind.
        for i, r in enumerate(rows):
            shade = {"slow": "tab:orange", "down": "grey"}.get(r["receiver_mode"])
            if shade:
                left = t[i - 1] if i else 0
                ax.axvspan(left, t[i], color=shade, alpha=0.12, linewidth=0)
    axes[-1].set_xlabel(
        "minutes since start (dashed line: end of warm-up; shaded: callback receiver slow (orange) or down (grey))"
    )
    total = sum(int(r["requests"]) for r in rows)
    fig.suptitle(
        f"scripts/soak: {t[-1]:.0f} min, {total} requests, 5xx {rows[-1]['errors_5xx']}, "
        f"max WAL {max(col('wal_bytes')) / 2**20:.1f} MB"
    )
    fig.tight_layout()
    fig.savefig(dest, dpi=90)


if __name__ == "__main__":
    main()
