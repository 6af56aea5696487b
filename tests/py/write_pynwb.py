#!/usr/bin/env python3
"""Write NWB files with pynwb in the layouts other tools use, for lsrmon's reader tests.

usage: write_pynwb.py OUT --variant VARIANT [--from SRC.nwb]

With --from, the signal, stimuli and markers are copied from SRC (a file lsrmon wrote),
so the reader test can compare the two files sample by sample. Without it, a small
synthetic int16 session is written.

Variants (each a layout lsrmon must accept):
  electrical   ElectricalSeries + electrodes table (labels in `location`), int16 data with
               conversion = volts_per_unit / 2 and channel_conversion = 2 for every channel
  int16_gzip   TimeSeries, int16, gzip-compressed chunks, labels in `comments`
  timestamps   TimeSeries, float64 volts (conversion 1), `timestamps` instead of a rate,
               linked by a soft link from a second series; halfway through the clock
               jumps by JUMP (50) sample periods, as when a device drops samples (stimuli
               and markers after it move with it, so they stay on the same samples)
  events       TimeSeries int16; markers as a 2.11 EventsTable in /events
  no_tables    TimeSeries int16 only: no stimuli table, no channel labels, no markers
  lzf          TimeSeries int16 compressed with h5py's LZF filter (id 32000), which
               lsrmon's HDF5 cannot decode: stands in for Blosc/Zstd in the error tests
"""
import argparse
import sys
import uuid
from datetime import datetime, timedelta, timezone

import h5py
import numpy as np
from hdmf.backends.hdf5.h5_utils import H5DataIO
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.epoch import TimeIntervals
from pynwb.file import Subject
from pynwb.misc import AnnotationSeries

JUMP = 50
VARIANTS = ["electrical", "int16_gzip", "timestamps", "events", "no_tables", "lzf"]


def s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load(src):
    """Signal (int16 [N, C]), volts per unit, rate, labels, stimuli, markers from our file."""
    with h5py.File(src, "r") as f:
        d = f["acquisition/emg_raw/data"]
        data = d[:]
        vpu = float(d.attrs["conversion"])
        rate = float(f["acquisition/emg_raw/starting_time"].attrs["rate"])
        labels = [s(x) for x in f["acquisition/emg_channels/label"][:]]
        stim = []
        if "intervals/stimuli" in f:
            g = f["intervals/stimuli"]
            for i in range(g["id"].shape[0]):
                stim.append((float(g["start_time"][i]), float(g["stop_time"][i]), s(g["branch"][i]),
                             float(g["intensity_mA"][i]), float(g["pulse_width_s"][i])))
        markers = []
        if "acquisition/surgical_events" in f:
            g = f["acquisition/surgical_events"]
            markers = [(float(t), s(x)) for t, x in zip(g["timestamps"][:], g["data"][:])]
    return data, vpu, rate, labels, stim, markers


def synthetic():
    rate = 2000.0
    n = 4000
    t = np.arange(n)
    data = np.stack([(3000 * np.sin(t * 0.01 * (c + 1))).astype(np.int16) for c in range(3)], axis=1)
    stim = [(0.25, 0.2502, "zygomatic", 5.0, 0.2e-3), (1.25, 1.2502, "marginal_mandibular", 6.0, 0.2e-3)]
    return data, 0.195e-6, rate, ["mentalis", "oculi", "oris"], stim, [(0.5, "dura opened")]


def shift_after_jump(variant, data, rate, stim, markers):
    if variant != "timestamps":
        return stim, markers
    t_jump = (data.shape[0] // 2) / rate
    mv = lambda t: t + JUMP / rate if t >= t_jump else t  # noqa: E731
    stim = [(mv(a), mv(a) + (b - a), br, ma, pw) for a, b, br, ma, pw in stim]
    return stim, [(mv(t), x) for t, x in markers]


def build(variant, data, vpu, rate, labels, stim, markers):
    stim, markers = shift_after_jump(variant, data, rate, stim, markers)
    start = datetime(2026, 3, 2, 8, 30, 0, tzinfo=timezone(timedelta(hours=9)))
    nwb = NWBFile(
        session_description=f"pynwb-written test session ({variant})",
        identifier=str(uuid.uuid4()),
        session_start_time=start,
        file_create_date=start,
        experimenter=["Technologist, Test"],
        institution="Test Hospital",
        experiment_description="reader compatibility test",
        session_id=f"pynwb-{variant}",
        keywords=["EMG"],
        subject=Subject(subject_id="case-0001", species="Homo sapiens", sex="U", age="P45Y",
                        description="pseudonymous test subject"),
    )
    n, c = data.shape
    if variant == "electrical":
        from pynwb.ecephys import ElectricalSeries
        dev = nwb.create_device(name="amplifier", description="EMG amplifier", manufacturer="test")
        grp = nwb.create_electrode_group(name="emg_needles", description="subdermal needles",
                                         location="face", device=dev)
        for lab in labels:
            nwb.add_electrode(group=grp, location=lab)
        region = nwb.create_electrode_table_region(list(range(c)), "EMG channels")
        series = ElectricalSeries(name="emg", data=H5DataIO(data, maxshape=(None, c), chunks=(1000, c)),
                                  electrodes=region, conversion=vpu / 2, channel_conversion=[2.0] * c,
                                  starting_time=0.0, rate=rate, description="raw EMG")
        nwb.add_acquisition(series)
    elif variant == "timestamps":
        volts = data.astype(np.float64) * vpu
        ts = np.arange(n, dtype=np.float64) / rate
        ts[n // 2:] += JUMP / rate
        series = TimeSeries(name="emg", data=volts, unit="volts", conversion=1.0, timestamps=ts,
                            description="raw EMG in volts, timestamped",
                            comments=",".join(labels))
        nwb.add_acquisition(series)
        # A second series sharing the timestamps: pynwb stores them as a soft link. The
        # reader must be told which series to replay (--series emg).
        nwb.add_acquisition(TimeSeries(name="emg_copy", data=volts[:, :1], unit="volts", timestamps=series,
                                       description="first channel again"))
    elif variant in ("int16_gzip", "lzf"):
        filt = dict(compression="gzip", compression_opts=4) if variant == "int16_gzip" else dict(compression="lzf")
        series = TimeSeries(name="emg", data=H5DataIO(data, chunks=(1000, c), maxshape=(None, c), **filt),
                            unit="volts", conversion=vpu, starting_time=0.0, rate=rate,
                            description="raw EMG, int16 ADC counts", comments=",".join(labels))
        nwb.add_acquisition(series)
    else:
        comments = ",".join(labels) if variant == "events" else "no comments"
        nwb.add_acquisition(TimeSeries(name="emg", data=data, unit="volts", conversion=vpu, starting_time=0.0,
                                       rate=rate, description="raw EMG", comments=comments))

    if variant != "no_tables":
        if stim:
            st = TimeIntervals(name="stimuli", description="stimuli delivered")
            st.add_column("branch", "stimulated branch")
            st.add_column("intensity_mA", "intensity in mA")
            st.add_column("pulse_width_s", "pulse width in s")
            for a, b, br, ma, pw in stim:
                st.add_row(start_time=a, stop_time=b, branch=br, intensity_mA=ma, pulse_width_s=pw)
            nwb.add_time_intervals(st)
        if markers and variant == "events":
            from pynwb.event import EventsTable
            ev = EventsTable(name="surgical_events", description="surgical markers",
                             source_description="typed by the technologist")
            ev.add_column("annotation", "marker text")
            for t, text in markers:
                ev.add_row(timestamp=t, annotation=text)
            nwb.add_events_table(ev)
        elif markers:
            nwb.add_acquisition(AnnotationSeries(name="surgical_events", data=[m[1] for m in markers],
                                                 timestamps=[m[0] for m in markers],
                                                 description="surgical markers"))
    return nwb


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--variant", choices=VARIANTS, required=True)
    ap.add_argument("--from", dest="src", metavar="SRC.nwb")
    a = ap.parse_args()
    parts = load(a.src) if a.src else synthetic()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nwb = build(a.variant, *parts)
        with NWBHDF5IO(a.out, "w") as io:
            io.write(nwb)
    print("wrote", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
