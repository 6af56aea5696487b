"""Reads an EDF+/BDF+ file with pyedflib, edfio and MNE and reports what each one sees.

Usage: read_edf.py FILE OUT_PREFIX

Prints one JSON object on stdout, one entry per library:
  labels, rates (Hz), dims, steps (physical units per digital step, from the header),
  start (ISO 8601 with microseconds: the first sample, as the library understands it),
  annotations [[onset_s_from_first_sample, duration_s or null, text], ...].
The physical samples of every ordinary signal go to OUT_PREFIX.<library>.f64 (float64,
little-endian, one signal after the other; `counts` in the JSON says how many each), in the
signal's own physical unit (MNE's volts are converted back to the header's unit).

Each library's onset convention is turned into "seconds from the first sample" here, and
the conversion is written down next to each reader, so a change in a library shows up.
"""

import datetime
import json
import sys

import numpy as np

PATH, PREFIX = sys.argv[1], sys.argv[2]
BDF = PATH.lower().endswith(".bdf")


def write_samples(lib, signals):
    with open(f"{PREFIX}.{lib}.f64", "wb") as f:
        for s in signals:
            f.write(np.asarray(s, dtype="<f8").tobytes())
    return [int(len(s)) for s in signals]


def with_pyedflib():
    import pyedflib

    r = pyedflib.EdfReader(PATH)
    try:
        n = r.signals_in_file
        labels = [r.getLabel(i) for i in range(n)]
        pmin, pmax = r.getPhysicalMinimum(), r.getPhysicalMaximum()
        dmin, dmax = r.getDigitalMinimum(), r.getDigitalMaximum()
        signals = [r.readSignal(i) for i in range(n)]
        onsets, durations, texts = r.readAnnotations()
        # EDFlib gives onsets from the first sample already (it subtracts the first record's
        # sub-second start, `starttime_subsecond`, in units of 100 ns). getStartdatetime()
        # divides that by 100 instead of 10 (0.25 s reads as 0.025 s), so the start is
        # rebuilt here from the whole seconds and the offset.
        sub = r.starttime_subsecond / 1e7
        start = r.getStartdatetime().replace(microsecond=0) + datetime.timedelta(seconds=sub)
        return {
            "labels": labels,
            "rates": [float(r.getSampleFrequency(i)) for i in range(n)],
            "dims": [r.getPhysicalDimension(i) for i in range(n)],
            "steps": [float((pmax[i] - pmin[i]) / (dmax[i] - dmin[i])) for i in range(n)],
            "start": start.isoformat(),
            "patient": r.getPatientCode(),
            "annotations": [
                [float(o), None if d < 0 else float(d), str(t)]
                for o, d, t in zip(onsets, durations, texts)
            ],
            "counts": write_samples("pyedflib", signals),
        }
    finally:
        r.close()


def with_edfio():
    import edfio

    e = edfio.read_bdf(PATH) if BDF else edfio.read_edf(PATH)
    sig = e.signals
    # edfio subtracts the first record's sub-second offset: onsets are from the first sample.
    return {
        "labels": [s.label for s in sig],
        "rates": [float(s.sampling_frequency) for s in sig],
        "dims": [s.physical_dimension for s in sig],
        "steps": [
            float((s.physical_max - s.physical_min) / (s.digital_max - s.digital_min))
            for s in sig
        ],
        "start": start_of(e),
        "patient": e.patient.code,
        "annotations": [
            [float(a.onset), None if a.duration is None else float(a.duration), a.text]
            for a in e.annotations
        ],
        "counts": write_samples("edfio", [s.data for s in sig]),
    }


def start_of(e):
    try:
        return e.startdatetime.isoformat()
    except Exception:  # an anonymised start date ("X"): the time alone
        return e.starttime.isoformat()


def with_mne():
    import mne

    mne.set_log_level("ERROR")
    read = mne.io.read_raw_bdf if BDF else mne.io.read_raw_edf
    # stim_channel=None: by default MNE turns a signal labelled "trigger" or "status" into
    # a stimulus channel of integer event codes (the samples' fractions dropped).
    raw = read(PATH, preload=True, stim_channel=None)
    # Back from volts to the header's unit (MNE scales uV/mV/V channels to volts).
    scale = {"uV": 1e6, "µV": 1e6, "mV": 1e3, "V": 1.0}
    units = raw._orig_units
    data = raw.get_data()
    signals = [data[i] * scale.get(units.get(ch, "V"), 1.0) for i, ch in enumerate(raw.ch_names)]
    ann = raw.annotations
    # Onsets are from orig_time (meas_date when the file has one); the first sample is at
    # meas_date + first_samp / sfreq. MNE 1.13 drops the sub-second start from meas_date
    # (its annotation onsets are still from the first sample).
    first = raw.first_samp / raw.info["sfreq"]
    meas = raw.info["meas_date"]
    offset = 0.0
    if ann.orig_time is not None and meas is not None:
        offset = (ann.orig_time - meas).total_seconds()
    start = meas + datetime.timedelta(seconds=first) if meas is not None else None
    return {
        "labels": list(raw.ch_names),
        "rates": [float(raw.info["sfreq"])] * len(raw.ch_names),
        "dims": [units.get(ch, "") for ch in raw.ch_names],
        "steps": [],
        "start": None if start is None else start.replace(tzinfo=None).isoformat(),
        "patient": None,
        "annotations": [
            [float(o) + offset - first, float(d) if d > 0 else None, str(t)]
            for o, d, t in zip(ann.onset, ann.duration, ann.description)
        ],
        "counts": write_samples("mne", signals),
    }


def attempt(read):
    try:
        return read()
    except Exception as e:  # the test reports which library refused the file, and why
        return {"error": f"{type(e).__name__}: {e}"}


print(
    json.dumps(
        {"pyedflib": attempt(with_pyedflib), "edfio": attempt(with_edfio), "mne": attempt(with_mne)}
    )
)
