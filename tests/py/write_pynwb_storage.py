#!/usr/bin/env python3
"""Write an NWB file with pynwb whose samples are stored in a given HDF5 layout, copying the
signal and the stimuli of a file lsrmon wrote. For the tests of lsrmon's direct chunk reader
(tests/nwb_chunks.rs) and for the analyze bench (benches/analyze.rs).

usage: write_pynwb_storage.py OUT --from SRC.nwb --storage STORAGE

Storages (TimeSeries "emg", labels in `comments`, stimuli in /intervals/stimuli):
  i16_gzip            int16 counts, gzip 4, h5py's automatic chunk shape (what
                      H5DataIO(compression="gzip") gives a researcher)
  i16_gzip_shuffle    the same with the shuffle filter
  i16_gzip_colchunks  int16, shuffle + gzip, chunks of 4099 rows x 1 column (several
                      chunks per row range, a partial last chunk)
  i16_gzip_1d         the first channel only, as a 1-D int16 array, shuffle + gzip
  i16_gzip_unwritten  int16, gzip, chunks of 1000 rows; the dataset is then extended by
                      2500 rows that are never written (HDF5 gives its fill value, 0)
  f32_gzip_shuffle    float32 volts (conversion 1), shuffle + gzip
  f64_gzip            float64 volts, gzip, chunks of 3000 rows
  f32_contiguous      float32 volts, no chunks, no compression
"""
import argparse
import os
import sys
import uuid
import warnings
from datetime import datetime, timezone

import h5py
import numpy as np
from hdmf.backends.hdf5.h5_utils import H5DataIO
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.epoch import TimeIntervals

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from write_pynwb import load  # noqa: E402

STORAGES = ["i16_gzip", "i16_gzip_shuffle", "i16_gzip_colchunks", "i16_gzip_1d", "i16_gzip_unwritten",
            "f32_gzip_shuffle", "f64_gzip", "f32_contiguous"]
EXTRA_ROWS = 2500


def samples(storage, data, vpu):
    """(stored array or H5DataIO, conversion)."""
    n, c = data.shape
    counts = np.rint(data).astype(np.int16) if data.dtype != np.int16 else data
    if storage.startswith("i16"):
        conv = vpu
        if storage == "i16_gzip":
            return H5DataIO(counts, compression="gzip", compression_opts=4), conv
        if storage == "i16_gzip_shuffle":
            return H5DataIO(counts, compression="gzip", compression_opts=4, shuffle=True), conv
        if storage == "i16_gzip_colchunks":
            return H5DataIO(counts, compression="gzip", shuffle=True, chunks=(4099, 1)), conv
        if storage == "i16_gzip_1d":
            return H5DataIO(np.ascontiguousarray(counts[:, 0]), compression="gzip", shuffle=True), conv
        return H5DataIO(counts, compression="gzip", chunks=(1000, c), maxshape=(None, c)), conv
    volts = data.astype(np.float64) * vpu
    if storage == "f32_gzip_shuffle":
        return H5DataIO(volts.astype(np.float32), compression="gzip", shuffle=True), 1.0
    if storage == "f64_gzip":
        return H5DataIO(volts, compression="gzip", chunks=(3000, c)), 1.0
    return volts.astype(np.float32), 1.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--from", dest="src", metavar="SRC.nwb", required=True)
    ap.add_argument("--storage", choices=STORAGES, required=True)
    a = ap.parse_args()
    data, vpu, rate, labels, stim, _markers = load(a.src)
    if a.storage == "i16_gzip_1d":
        labels = labels[:1]
    start = datetime(2026, 3, 2, 8, 30, 0, tzinfo=timezone.utc)
    nwb = NWBFile(session_description=f"pynwb-written session ({a.storage})", identifier=str(uuid.uuid4()),
                  session_start_time=start, file_create_date=start)
    stored, conv = samples(a.storage, data, vpu)
    nwb.add_acquisition(TimeSeries(name="emg", data=stored, unit="volts", conversion=conv, starting_time=0.0,
                                   rate=rate, description="raw EMG", comments=",".join(labels)))
    if stim:
        st = TimeIntervals(name="stimuli", description="stimuli delivered")
        st.add_column("branch", "stimulated branch")
        st.add_column("intensity_mA", "intensity in mA")
        st.add_column("pulse_width_s", "pulse width in s")
        for t0, t1, br, ma, pw in stim:
            st.add_row(start_time=t0, stop_time=t1, branch=br, intensity_mA=ma, pulse_width_s=pw)
        nwb.add_time_intervals(st)
    tmp = a.out + ".part"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(tmp, "w") as io:
            io.write(nwb)
    if a.storage == "i16_gzip_unwritten":
        with h5py.File(tmp, "r+") as f:
            d = f["acquisition/emg/data"]
            d.resize(d.shape[0] + EXTRA_ROWS, axis=0)
    os.replace(tmp, a.out)
    print("wrote", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
