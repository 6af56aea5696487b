"""The numpy/scipy peer of `lsrmon analyze`, for benches/analyze.rs.

What a researcher would write to get the lateral spread response from a session file with
the usual tools: load the raw EMG and the stimulus times with h5py, notch the mains
(iirnotch + filtfilt), band-pass 20-3000 Hz (4th-order Butterworth, sosfiltfilt), and take
the peak-to-peak amplitude in a fixed 6-40 ms window after every stimulus, on every EMG
channel. No artifact handling, no rejection, no detector: the bare minimum, so the
comparison flatters the peer, not lsrmon.

Usage: peer_numpy.py FILE.nwb [--mains HZ] [--read-only]
Reads lsrmon's session files and pynwb-written ones (series `emg`, labels in `comments`).
With --read-only it only reads the samples with h5py and prints the seconds that took: the
read floor of the bench.
Prints one JSON object on stdout: stimuli and channels seen, the first p2p values per
channel (microvolts, with their stimulus times), the median per channel, and the time spent
in each step (the bench times the whole process, imports included).
"""

import argparse
import json
import time

t_start = time.perf_counter()

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

t_imports = time.perf_counter()


def text(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--mains", type=float, default=50.0)
    ap.add_argument("--window-ms", type=float, nargs=2, default=(6.0, 40.0))
    ap.add_argument("--band-hz", type=float, nargs=2, default=(20.0, 3000.0))
    ap.add_argument("--first", type=int, default=5, help="p2p values to print per channel")
    ap.add_argument("--read-only", action="store_true",
                    help="only read the samples (the read floor) and print the time it took")
    a = ap.parse_args()

    t0 = time.perf_counter()
    with h5py.File(a.file, "r") as f:
        # lsrmon's session files name the series emg_raw; pynwb-written ones here, emg.
        series = f["acquisition/emg_raw"] if "acquisition/emg_raw" in f else f["acquisition/emg"]
        ds = series["data"]
        raw = ds[:]  # (frames, channels), native type
        if a.read_only:
            t_load = time.perf_counter() - t0
            print(json.dumps({"frames": int(raw.shape[0]), "read_s": round(t_load, 4)}))
            return
        conversion = float(ds.attrs.get("conversion", 1.0))
        offset = float(ds.attrs.get("offset", 0.0))
        st = series["starting_time"]
        fs = float(st.attrs["rate"])
        start = float(st[()])
        if "acquisition/emg_channels" in f:
            labels = text(f["acquisition/emg_channels/label"][:])
            roles = text(f["acquisition/emg_channels/role"][:])
        else:
            labels = str(series.attrs["comments"]).split(",")
            roles = ["trigger" if "trig" in x.lower() else "emg" for x in labels]
        stim_t = f["intervals/stimuli/start_time"][:]
    t_load = time.perf_counter() - t0

    emg = [i for i, r in enumerate(roles) if r == "emg"]
    w0 = int(round(a.window_ms[0] * 1e-3 * fs))
    w1 = int(round(a.window_ms[1] * 1e-3 * fs))
    onsets = np.round((stim_t - start) * fs).astype(np.int64)
    onsets = onsets[(onsets + w1 <= raw.shape[0]) & (onsets >= 0)]
    idx = onsets[:, None] + np.arange(w0, w1)[None, :]

    b_notch, a_notch = signal.iirnotch(a.mains, 30.0, fs)
    sos = signal.butter(4, a.band_hz, btype="bandpass", fs=fs, output="sos")

    t_filter = 0.0
    t_measure = 0.0
    out = {}
    for ch in emg:
        t0 = time.perf_counter()
        x = (raw[:, ch].astype(np.float64) * conversion + offset) * 1e6  # microvolts
        x = signal.filtfilt(b_notch, a_notch, x)
        x = signal.sosfiltfilt(sos, x)
        t1 = time.perf_counter()
        p2p = np.ptp(x[idx], axis=1)
        t_measure += time.perf_counter() - t1
        t_filter += t1 - t0
        out[labels[ch]] = p2p

    first = min(a.first, len(onsets))
    result = {
        "sample_rate_hz": fs,
        "frames": int(raw.shape[0]),
        "channels": int(raw.shape[1]),
        "emg_channels": [labels[c] for c in emg],
        "stimuli": int(len(onsets)),
        "first_stim_time_s": [float(t) for t in stim_t[:first]],
        "first_p2p_uv": {k: [round(float(v), 2) for v in p[:first]] for k, p in out.items()},
        "median_p2p_uv": {k: round(float(np.median(p)), 2) for k, p in out.items()},
        "timing_s": {
            "imports": round(t_imports - t_start, 3),
            "load": round(t_load, 3),
            "filter": round(t_filter, 3),
            "measure": round(t_measure, 3),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
